import { timingSafeEqual } from "node:crypto";

/** Whether an `Authorization: Bearer …` header carries the expected token (constant-time compare). */
export function hasBearerToken(authorization: string | undefined, expected: string): boolean {
  const given = Buffer.from(authorization?.replace(/^Bearer /i, "") ?? "");
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}
