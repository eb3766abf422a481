/**
 * `pause`: SIGSTOP a process (a stand-in for a long GC pause or a frozen VM), SIGCONT on stop. A service
 * is one process; a PostgreSQL node is its postmaster's whole process group (every backend freezes).
 */
import { isProcessAlive } from "../topology/postgres/postmaster.ts";
import type { ServiceProcess } from "../topology/service-process.ts";
import { BaseNemesis } from "./nemesis.ts";

/** What can be paused: a pid, and how to signal it. */
export interface PausableTarget {
  name: string;
  pid(): number | undefined;
  signal(signal: "SIGSTOP" | "SIGCONT"): Promise<void>;
}

export function pausableService(name: string, service: Pick<ServiceProcess, "pid" | "kill">): PausableTarget {
  return { name, pid: () => service.pid, signal: (signal) => service.kill(signal) };
}

/** A postmaster and its backends (the postmaster leads its own process group). */
export function pausableProcessGroup(name: string, pid: number): PausableTarget {
  return {
    name,
    pid: () => (isProcessAlive(pid) ? pid : undefined),
    signal: async (signal) => {
      try {
        process.kill(-pid, signal);
      } catch {
        process.kill(pid, signal);
      }
    },
  };
}

export class PauseNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: PausableTarget,
    options: { resumeAfterMs?: number } = {},
  ) {
    super({ stopAfterMs: options.resumeAfterMs });
    this.name = `pause ${target.name}`;
  }

  describe(): string {
    return `SIGSTOP ${this.target.name}; SIGCONT on stop`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const pid = this.target.pid();
    if (!pid) throw new Error(`${this.target.name} is not running`);
    await this.target.signal("SIGSTOP");
    return { target: this.target.name, pid, signal: "SIGSTOP" };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const pid = this.target.pid();
    if (!pid) return { target: this.target.name, resumed: false, note: "the process is gone" };
    await this.target.signal("SIGCONT");
    return { target: this.target.name, pid, signal: "SIGCONT" };
  }
}
