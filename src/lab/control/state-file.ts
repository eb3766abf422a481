import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BuiltInBug } from "../../shop/built-in-bugs.ts";
import type { ComponentRow } from "../topology/launcher.ts";

/** What `lab up` leaves for `lab status`, `lab down` and `fault …` run from other terminals. */
export interface LabState {
  pid: number;
  startedAt: string;
  workDir: string;
  controlUrl: string;
  token: string;
  regions: string[];
  replication: string;
  /** The deliberate bug the shop runs with (src/shop/built-in-bugs.ts); absent for the real shop. */
  builtInBug?: BuiltInBug;
  components: ComponentRow[];
}

export const DEFAULT_LAB_DIR = ".chaoscart/lab";
const FILE = "lab.json";

export function writeLabState(state: LabState): void {
  const file = path.join(state.workDir, FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file); // readers never see a half-written file
}

export function readLabState(dir: string): LabState | undefined {
  const file = path.join(dir, FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as LabState;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
