/** Running PostgreSQL's command-line tools to completion, as the unprivileged user. */
import { spawn } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { identity, type RunAs } from "./os-user.ts";

export interface CommandOptions {
  runAs: RunAs | undefined;
  cwd: string;
  timeoutMs?: number;
  /** Kills the program when aborted (the cluster is being stopped). */
  signal?: AbortSignal;
  /** Added to the environment (after the PG* variables are removed), e.g. PGPASSFILE. */
  env?: Record<string, string>;
}

/**
 * The environment for PostgreSQL processes: ours without PG* variables (a stray PGHOST or PGDATA
 * would redirect the tools), C locale so messages are predictable, HOME inside the work dir.
 */
export function childEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PG")) env[key] = value;
  }
  return { ...env, LC_ALL: "C", LANG: "C", HOME: home };
}

/** Runs a program; resolves with its combined output, rejects with "<what> failed: <tail of output>". */
export function runCommand(
  what: string,
  file: string,
  args: string[],
  opts: CommandOptions,
): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...childEnv(opts.cwd), ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...identity(opts.runAs),
      ...(opts.signal ? { signal: opts.signal, killSignal: "SIGKILL" as const } : {}),
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      output += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      if (err.name === "AbortError") reject(new Error(`${what} aborted: the cluster is being stopped`));
      else reject(new Error(`${what} failed: cannot run ${file}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${tail(output)}`));
    });
  });
}

/** The last lines of a text, for error messages. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/** The last bytes of a file (e.g. a server log), or "" when it cannot be read. */
export function fileTail(file: string, bytes = 4096): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, "r");
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return tail(buf.toString("utf8"));
  } catch {
    return "";
  }
}
