/**
 * Where the CPU went during a timed window, from /proc (Linux): this process (the load generator),
 * the service process, each PostgreSQL postmaster with all its children, and the whole machine.
 * Figures are % of one core, so a 2-core machine tops out at 200%.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

export interface CpuRoots {
  /** Label → root pid; the root and every descendant are counted. */
  [label: string]: number | undefined;
}

export interface CpuSnapshot {
  at: number;
  ticks: Record<string, number>;
  self: NodeJS.CpuUsage;
  machine: { busy: number; iowait: number; total: number } | undefined;
}

export interface CpuUse {
  /** % of one core, per label, plus "bench" for this process and "other" for the rest of the host. */
  percent: Record<string, number>;
  /** Whole machine: % of all cores busy (user+system+irq+steal) and in iowait. */
  machineBusyPercent: number | undefined;
  machineIowaitPercent: number | undefined;
  cores: number;
}

const TICKS_PER_SECOND = clockTicks();

export function cpuSnapshot(roots: CpuRoots): CpuSnapshot {
  const table = processTable();
  const ticks: Record<string, number> = {};
  for (const [label, root] of Object.entries(roots)) {
    if (root === undefined) continue;
    ticks[label] = subtreeTicks(table, root);
  }
  return { at: performance.now(), ticks, self: process.cpuUsage(), machine: machineTicks() };
}

export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const seconds = Math.max(1e-3, (after.at - before.at) / 1000);
  const percent: Record<string, number> = {};
  const selfUs = after.self.user + after.self.system - before.self.user - before.self.system;
  percent.bench = (selfUs / 1e6 / seconds) * 100;
  for (const [label, end] of Object.entries(after.ticks)) {
    const begin = before.ticks[label];
    if (begin === undefined) continue;
    percent[label] = ((end - begin) / TICKS_PER_SECOND / seconds) * 100;
  }
  let machineBusyPercent: number | undefined;
  let machineIowaitPercent: number | undefined;
  const cores = os.availableParallelism();
  if (before.machine && after.machine) {
    const total = after.machine.total - before.machine.total;
    if (total > 0) {
      machineBusyPercent = ((after.machine.busy - before.machine.busy) / total) * 100;
      machineIowaitPercent = ((after.machine.iowait - before.machine.iowait) / total) * 100;
      // Everything else on the host (kernel threads, other people's work): busy cores minus ours.
      const ours = Object.values(percent).reduce((sum, p) => sum + p, 0);
      percent.other = Math.max(0, machineBusyPercent * cores - ours);
    }
  }
  return { percent, machineBusyPercent, machineIowaitPercent, cores };
}

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime (children reaped by it count too). */
  ticks: number;
}

function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
      const num = (i: number) => Number(fields[i - 3] ?? 0);
      table.set(Number(entry), { ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17) });
    } catch {
      // the process exited between readdir and read
    }
  }
  return table;
}

function subtreeTicks(table: Map<number, ProcStat>, root: number): number {
  const children = new Map<number, number[]>();
  for (const [pid, stat] of table) {
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  let sum = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    sum += table.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

function machineTicks(): CpuSnapshot["machine"] {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, iowait, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

function clockTicks(): number {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}
