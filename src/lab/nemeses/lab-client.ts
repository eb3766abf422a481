/** A small client for the lab endpoints and admin APIs of the shop's services (bearer token, JSON). */

export class LabRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = "LabRequestError";
  }
}

export interface LabTarget {
  /** Name for messages, e.g. `east/order`. */
  name: string;
  /** The service's own base URL (control traffic does not go through fault links). */
  url: string;
  token: string;
}

export async function labRequest<T = Record<string, unknown>>(
  target: LabTarget,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new Error(`${method} ${target.name}${path}: ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const message = (parsed as { message?: unknown })?.message ?? text;
    throw new LabRequestError(
      response.status,
      parsed,
      `${method} ${target.name}${path} answered ${response.status}: ${String(message)}`,
    );
  }
  return parsed as T;
}
