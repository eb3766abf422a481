/** One postmaster as a child process we own: start, readiness, fast shutdown, and a synchronous kill for exit paths. */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { childEnv, fileTail } from "./command.ts";
import { chownTree, identity, type RunAs } from "./os-user.ts";

export interface PostmasterSpec {
  name: string;
  binDir: string;
  dataDir: string;
  logFile: string;
  runAs: RunAs | undefined;
  /** Working directory and HOME of the server. */
  home: string;
}

const FAST_SHUTDOWN_MS = 10_000;
const SYNC_KILL_WAIT_MS = 3_000;

export class Postmaster {
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly spec: PostmasterSpec,
    child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
  }

  /** Spawns `postgres -D dataDir` with stdout and stderr appended to the log file. */
  static async start(spec: PostmasterSpec): Promise<Postmaster> {
    const fd = openSync(spec.logFile, "a", 0o640);
    let child: ChildProcess;
    try {
      chownTree(spec.logFile, spec.runAs);
      child = spawn(path.join(spec.binDir, "postgres"), ["-D", spec.dataDir], {
        cwd: spec.home,
        env: childEnv(spec.home),
        stdio: ["ignore", fd, fd],
        // Own process group: a terminal's Ctrl-C reaches us, and we decide the shutdown order.
        detached: true,
        ...identity(spec.runAs),
      });
    } finally {
      closeSync(fd);
    }
    // Nothing of ours keeps the event loop alive for it; the exit handler reaps forgotten clusters.
    child.unref();
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new Error(`${spec.name}: cannot start ${spec.binDir}/postgres: ${err.message}`);
    }
    return new Postmaster(spec, child, pid);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  logTail(): string {
    return fileTail(this.spec.logFile);
  }

  /** Polls `probe` until it succeeds; fails early, with the log tail, if the server exits or the time runs out. */
  async waitReady(probe: () => Promise<void>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";
    while (Date.now() < deadline) {
      if (!this.running) {
        const how = this.exit?.signal ?? `exit code ${this.exit?.code}`;
        throw new Error(
          `${this.spec.name} exited during start-up (${how}); log ${this.spec.logFile}:\n${this.logTail()}`,
        );
      }
      try {
        await probe();
        return;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(
      `${this.spec.name} not ready after ${timeoutMs} ms (last error: ${lastError}); log ${this.spec.logFile}:\n${this.logTail()}`,
    );
  }

  /** Fast shutdown (SIGINT); SIGKILL to the process group if it has not exited within graceMs. */
  async stop(graceMs = FAST_SHUTDOWN_MS): Promise<void> {
    if (!this.running) return;
    signal(this.pid, "SIGINT");
    if (await this.waitExit(graceMs)) return;
    signal(-this.pid, "SIGKILL");
    signal(this.pid, "SIGKILL");
    await this.waitExit(5_000);
  }

  /** SIGKILL now, without shutdown (a crash, for nemeses and failure paths). */
  async kill(): Promise<void> {
    if (!this.running) return;
    signal(-this.pid, "SIGKILL");
    signal(this.pid, "SIGKILL");
    await this.waitExit(5_000);
  }

  /**
   * For process 'exit' handlers, where nothing asynchronous runs: immediate shutdown (SIGQUIT, which
   * also removes shared memory), a short synchronous wait, then SIGKILL to the process group.
   */
  killSync(): void {
    if (!this.running || !isProcessAlive(this.pid)) return;
    signal(this.pid, "SIGQUIT");
    const deadline = Date.now() + SYNC_KILL_WAIT_MS;
    while (Date.now() < deadline && isProcessAlive(this.pid)) sleepSync(20);
    signal(-this.pid, "SIGKILL");
    if (isProcessAlive(this.pid)) signal(this.pid, "SIGKILL");
  }

  private async waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }
}

/** True while the process exists and is not a zombie (an exited child not yet reaped still has a pid). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
