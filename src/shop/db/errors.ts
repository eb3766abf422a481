/** The SQLSTATE of a PostgreSQL error (postgres.js puts it on `code`), or "" for anything else. */
export function pgCode(error: unknown): string {
  return typeof error === "object" && error !== null ? String((error as { code?: unknown }).code ?? "") : "";
}
