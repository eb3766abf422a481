import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort } from "./postgres/ports.ts";
import { track, untrack } from "./postgres/registry.ts";
import { serviceBundle } from "./service-bundle.ts";

const CLI = fileURLToPath(new URL("../../../bin/chaoscart.js", import.meta.url));

export interface ServiceSpec {
  /** `chaoscart serve <role>` */
  role: string;
  env: Record<string, string>;
  /** Fixed port, so a restarted service comes back where its clients expect it. Default: a free one. */
  port?: number;
  logFile: string;
  readyTimeoutMs?: number;
  /** Told when the process dies without the lab asking (a crash): supervision reports, it never restarts silently. */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/**
 * A service's environment: this process's, without the shop's built-in-bug switch (a bug is switched
 * on only through `spec.env`, by a launcher that says so loudly), then the spec's, then the port.
 */
export function childEnv(
  parent: NodeJS.ProcessEnv,
  env: Record<string, string>,
  port: number,
): NodeJS.ProcessEnv {
  const { CHAOSCART_BUILT_IN_BUG: _notInherited, ...inherited } = parent;
  return { ...inherited, ...env, CHAOSCART_PORT: String(port) };
}

/**
 * One shop service as a child process (`chaoscart serve <role>`), with its log in a file. The lab
 * owns it: kill -9, restart on the same port, stop; and it never outlives this process.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private readonly handle = { stop: () => this.stop(), killSync: () => this.killSync() };

  private constructor(
    readonly spec: ServiceSpec,
    readonly port: number,
  ) {}

  static async start(spec: ServiceSpec): Promise<ServiceProcess> {
    const service = new ServiceProcess(spec, spec.port ?? (await freePort()));
    await service.restart();
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Starts the process (again) and waits until `/readyz` answers 200. */
  async restart(): Promise<void> {
    if (this.pid) throw new Error(`${this.spec.role} is already running (pid ${this.pid})`);
    const entry = (await serviceBundle()) ?? CLI;
    const log = openSync(this.spec.logFile, "a");
    try {
      this.child = spawn(process.execPath, [entry, "serve", this.spec.role], {
        env: childEnv(process.env, this.spec.env, this.port),
        stdio: ["ignore", log, log],
      });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.expectingExit = false;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        if (!this.expectingExit) this.spec.onUnexpectedExit?.(code, signal);
        resolve();
      }),
    );
    track(this.handle);
    await this.waitReady(this.spec.readyTimeoutMs ?? 60_000);
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      if (!this.pid)
        throw new Error(`${this.spec.role} exited before becoming ready; see ${this.spec.logFile}`);
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok) return;
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.spec.role} not ready after ${timeoutMs} ms (${last}); see ${this.spec.logFile}`);
  }

  /** Sends a signal and, for terminating ones, waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    const terminating = signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT";
    if (terminating) this.expectingExit = true;
    process.kill(pid, signal);
    if (terminating) {
      await this.exited;
      untrack(this.handle);
    }
  }

  /** Graceful stop: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    const pid = this.pid;
    if (pid) {
      this.expectingExit = true;
      process.kill(pid, "SIGCONT"); // a paused process cannot handle SIGTERM
      process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => this.pid && process.kill(pid, "SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    untrack(this.handle);
  }

  private killSync(): void {
    const pid = this.pid;
    if (pid) process.kill(pid, "SIGKILL");
  }
}
