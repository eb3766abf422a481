/** Helpers the benchmarks share: option parsers, progress lines, service-log scanning, filesystem names. */
import { readFileSync, statfsSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import { parseDuration as parseLabDuration } from "../src/lab/duration.ts";

/** A command-line duration in the lab's one format (src/lab/duration.ts), bounded to what a bench cell can use. */
export function parseDuration(value: string): number {
  const ms = parseLabDuration(value);
  if (ms === undefined) throw new InvalidArgumentError("expected a duration like 5s, 1500ms or 1m");
  if (ms < 100 || ms > 3_600_000) throw new InvalidArgumentError("expected between 100ms and 1h");
  return ms;
}

export function parseWarmup(value: string): number {
  return value.trim() === "0" ? 0 : parseDuration(value);
}

export function parseConcurrency(value: string): number[] {
  const list = value.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) {
    throw new InvalidArgumentError("expected comma-separated integers in 1..4096, e.g. 1,16,64,256");
  }
  return [...new Set(list)];
}

/** Progress output: timestamped lines, plus a self-erasing status line on a terminal. */
export interface Progress {
  say(line: string): void;
  status(line: string): void;
}

export function progress(startedAt = performance.now()): Progress {
  const tty = process.stdout.isTTY === true;
  let statusLine = false;
  const clock = () => {
    const s = Math.floor((performance.now() - startedAt) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  };
  return {
    say(line) {
      if (statusLine) process.stdout.write("\r\x1b[K");
      statusLine = false;
      process.stdout.write(`[${clock()}] ${line}\n`);
    },
    status(line) {
      if (!tty) return;
      process.stdout.write(`\r\x1b[K[${clock()}] ${line}`);
      statusLine = true;
    },
  };
}

/** Lines at pino level warn (40) or above in a service log (any non-JSON line counts too). */
export function problemsLogged(logFile: string): { count: number; first: string | undefined } {
  let text: string;
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return { count: 0, first: undefined };
  }
  const lines = text.split("\n").filter((line) => {
    const level = /"level":(\d+)/.exec(line)?.[1];
    return level !== undefined ? Number(level) >= 40 : line.trim().length > 0;
  });
  return { count: lines.length, first: lines[0]?.slice(0, 300) };
}

export function fsType(dir: string): string {
  const names: Record<number, string> = {
    61267: "ext4",
    16914836: "tmpfs",
    2035054128: "overlayfs",
    1481003842: "xfs",
    2435016766: "btrfs",
    801189825: "zfs",
  };
  try {
    const type = statfsSync(dir).type;
    return names[type] ?? `fs type 0x${type.toString(16)}`;
  } catch {
    return "fs type unknown";
  }
}
