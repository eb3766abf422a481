/** A small client for the fault links' control API (what `chaoscart fault add|rm|ls` uses). */
import type { LinkStatus, ToxicInfo } from "./link.ts";
import type { PartitionDirection, ToxicSpecInput } from "./spec.ts";

export interface FaultClientOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:7070` (with any prefix the plugin is mounted under). */
  url: string;
  token: string;
  timeoutMs?: number;
}

export class FaultApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; field?: string; message?: string } & Record<string, unknown>,
  ) {
    super(`fault API ${status}: ${body.message ?? body.error ?? "request failed"}`);
    this.name = "FaultApiError";
  }

  /** The offending field of a 400. */
  get field(): string | undefined {
    return this.body.field;
  }
}

export class FaultClient {
  private readonly base: string;

  constructor(private readonly options: FaultClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
  }

  async links(): Promise<LinkStatus[]> {
    return (await this.call<{ links: LinkStatus[] }>("GET", "/links")).links;
  }

  link(name: string): Promise<LinkStatus> {
    return this.call("GET", `/links/${encodeURIComponent(name)}`);
  }

  async addToxic(name: string, spec: ToxicSpecInput): Promise<ToxicInfo> {
    return (await this.call<{ toxic: ToxicInfo }>("POST", `/links/${encodeURIComponent(name)}/toxics`, spec))
      .toxic;
  }

  async removeToxic(name: string, id: string): Promise<void> {
    await this.call("DELETE", `/links/${encodeURIComponent(name)}/toxics/${encodeURIComponent(id)}`);
  }

  partition(name: string, direction: PartitionDirection = "both"): Promise<LinkStatus> {
    return this.call("POST", `/links/${encodeURIComponent(name)}/partition`, { direction });
  }

  down(name: string): Promise<LinkStatus> {
    return this.call("POST", `/links/${encodeURIComponent(name)}/down`);
  }

  heal(name: string): Promise<LinkStatus> {
    return this.call("POST", `/links/${encodeURIComponent(name)}/heal`);
  }

  async healAll(): Promise<LinkStatus[]> {
    return (await this.call<{ links: LinkStatus[] }>("POST", "/heal")).links;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { message: text };
    }
    if (!response.ok) throw new FaultApiError(response.status, parsed as FaultApiError["body"]);
    return parsed as T;
  }
}
