/** `kill`: kill -9 a service process; stop restarts it on the same port (or it restarts after `restartAfterMs`). */
import type { ServiceProcess } from "../topology/service-process.ts";
import { BaseNemesis } from "./nemesis.ts";

export type KillableProcess = Pick<ServiceProcess, "pid" | "kill" | "restart">;

export interface KillOptions {
  /** Restart by itself this long after the kill (the stop event then says `trigger: "timer"`). */
  restartAfterMs?: number;
}

export class KillNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: { name: string; process: KillableProcess },
    private readonly options: KillOptions = {},
  ) {
    super({ stopAfterMs: options.restartAfterMs });
    this.name = `kill ${target.name}`;
  }

  describe(): string {
    const after = this.options.restartAfterMs;
    return `kill -9 ${this.target.name}; restart it ${after === undefined ? "on stop" : `after ${after} ms`}`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const pid = this.target.process.pid;
    if (!pid) throw new Error(`${this.target.name} is not running`);
    await this.target.process.kill("SIGKILL");
    return { target: this.target.name, pid, signal: "SIGKILL" };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const running = this.target.process.pid;
    if (running) return { target: this.target.name, restarted: false, pid: running, note: "already running" };
    await this.target.process.restart();
    return { target: this.target.name, restarted: true, pid: this.target.process.pid };
  }
}
