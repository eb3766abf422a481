import { appendFile, close, mkdirSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ClientOp, HistoryOp } from "./op.ts";

/** Where the run directory keeps its history. */
export const HISTORY_FILE = "history.jsonl";

/** Anything that records history ops: the workload and the nemesis log only need this. */
export interface HistorySink {
  append(op: HistoryOp): void;
}

export interface HistoryWriterOptions {
  /** The run directory (created if missing); the history goes to `<dir>/history.jsonl`. */
  dir: string;
  /** How often buffered ops are written out (default 200 ms). */
  flushIntervalMs?: number;
}

const appendToFd = promisify(appendFile);
const closeFd = promisify(close);

/**
 * Appends ops as JSON lines to `<dir>/history.jsonl` (appending to an existing file) and keeps
 * every op in memory for the checkers (`ops()`). Opening is synchronous, so a directory that cannot
 * be written fails at construction. `append` never blocks and never awaits: lines are buffered and
 * written by a periodic flush; writes are chained so lines reach the file in append order. `close()` writes
 * everything still buffered before it resolves, so a normal close loses nothing. (A crash of the
 * process can lose at most the last flush interval of the *file*; the in-memory copy is what the
 * same process's checkers read.)
 */
export class HistoryWriter implements HistorySink {
  readonly path: string;
  private readonly all: HistoryOp[] = [];
  private readonly fd: number;
  private buffer: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(options: HistoryWriterOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.path = join(options.dir, HISTORY_FILE);
    this.fd = openSync(this.path, "a");
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Same as the constructor, for callers that prefer to await. */
  static async open(dir: string, options: Omit<HistoryWriterOptions, "dir"> = {}): Promise<HistoryWriter> {
    return new HistoryWriter({ ...options, dir });
  }

  /** Every op appended, in order. The live array (no copy): it grows as ops are appended. */
  ops(): readonly HistoryOp[] {
    return this.all;
  }

  append(op: HistoryOp): void {
    if (this.closed) throw new Error(`history ${this.path} is closed; cannot append a ${op.type} op`);
    this.all.push(op);
    this.buffer.push(`${JSON.stringify(op)}\n`);
  }

  /** The client operations only (invokes and completions), in order. */
  clientOps(): ClientOp[] {
    return this.all.filter((op): op is ClientOp => op.process === "client");
  }

  /** Writes what is buffered; resolves once it (and every earlier flush) is in the file. */
  flush(): Promise<void> {
    if (this.buffer.length > 0) {
      const chunk = this.buffer.join("");
      this.buffer = [];
      this.writing = this.writing.then(async () => {
        if (this.writeError) return;
        try {
          await appendToFd(this.fd, chunk); // writes the whole chunk (loops over short writes)
        } catch (error) {
          this.writeError = error as Error;
        }
      });
    }
    return this.writing.then(() => {
      if (this.writeError) throw new Error(`writing history ${this.path}: ${this.writeError.message}`);
    });
  }

  /** Flushes everything and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.writing;
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.flush();
    } finally {
      await closeFd(this.fd);
    }
  }
}

/**
 * Loads a history written by HistoryWriter. Blank lines are skipped; a line that is not a JSON
 * object with a known `process` and `type` fails with its line number (`path:line: ...`).
 */
export async function readHistory(path: string): Promise<HistoryOp[]> {
  const text = await readFile(path, "utf8");
  return parseHistory(text, path);
}

export function parseHistory(text: string, source = "history"): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]?.trim() ?? "";
    if (line === "") continue;
    const where = `${source}:${index + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: malformed history line (${(error as Error).message}): ${excerpt(line)}`);
    }
    const problem = shapeProblem(parsed);
    if (problem) throw new Error(`${where}: malformed history line (${problem}): ${excerpt(line)}`);
    ops.push(parsed as HistoryOp);
  }
  return ops;
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const op = value as Record<string, unknown>;
  if (typeof op.time !== "number") return "time is not a number";
  if (op.process === "client") {
    if (!["invoke", "ok", "fail", "info"].includes(op.type as string))
      return `unknown client op type ${op.type}`;
    if (typeof op.id !== "number") return "id is not a number";
    if (!["order", "order-read", "catalog-read"].includes(op.kind as string))
      return `unknown kind ${op.kind}`;
    if (typeof op.value !== "object" || op.value === null) return "value is not an object";
    return undefined;
  }
  if (op.process === "nemesis") {
    if (op.type !== "start" && op.type !== "stop") return `unknown nemesis op type ${op.type}`;
    if (typeof op.nemesis !== "string") return "nemesis is not a string";
    return undefined;
  }
  if (op.process === "probe") {
    if (op.type !== "probe") return `unknown probe op type ${op.type}`;
    if (typeof op.service !== "string") return "service is not a string";
    if (op.endpoint !== "healthz" && op.endpoint !== "readyz") return `unknown endpoint ${op.endpoint}`;
    if (!["up", "down", "unreachable"].includes(op.status as string)) return `unknown status ${op.status}`;
    return undefined;
  }
  return `unknown process ${JSON.stringify(op.process)}`;
}

function excerpt(line: string): string {
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}
