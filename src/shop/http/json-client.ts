import { Pool } from "undici";
import { DependencyError } from "../resilience/policies.ts";

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface JsonRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A keep-alive JSON client for one dependency, sending `headers` (e.g. the service credential) on
 * every request. Answers the dependency gives on purpose (2xx, 4xx)
 * come back as values; everything that says "the dependency is unwell" — connection errors, 5xx,
 * 429 — is thrown as DependencyError for the resilience policy to retry and count.
 */
export class JsonClient {
  private readonly pool: Pool;

  private readonly headers: Record<string, string>;

  constructor(
    readonly dependency: string,
    readonly baseUrl: string,
    options: { connections?: number; headers?: Record<string, string> } = {},
  ) {
    this.pool = new Pool(baseUrl, {
      connections: options.connections ?? 64,
      pipelining: 1,
      keepAliveTimeout: 10_000,
    });
    this.headers = options.headers ?? {};
  }

  async request<T = Record<string, unknown>>(request: JsonRequest): Promise<JsonResponse<T>> {
    let response: Awaited<ReturnType<Pool["request"]>>;
    try {
      response = await this.pool.request({
        method: request.method,
        path: request.path,
        headers: {
          ...this.headers,
          ...(request.body === undefined ? {} : { "content-type": "application/json" }),
          ...request.headers,
        },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: request.signal,
      });
    } catch (error) {
      throw new DependencyError(
        this.dependency,
        `${request.method} ${request.path}: ${(error as Error).message}`,
      );
    }
    const text = await response.body.text().catch(() => "");
    if (response.statusCode >= 500 || response.statusCode === 429) {
      throw new DependencyError(
        this.dependency,
        `${request.method} ${request.path} answered ${response.statusCode}`,
        response.statusCode,
        retryAfterMs(response.headers["retry-after"]),
      );
    }
    let body: T;
    try {
      body = (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new DependencyError(this.dependency, `${request.method} ${request.path}: malformed JSON answer`);
    }
    return { status: response.statusCode, body };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
