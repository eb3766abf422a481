import path from "node:path";

const PROFILE_HOOK = new URL("./cpu-profile-hook.mjs", import.meta.url).href;

/**
 * Environment that makes a service profile its own CPU into `file` (a .cpuprofile, read by
 * bench/cpuprofile.ts). Node 20 refuses --cpu-prof in NODE_OPTIONS: a preload drives the profiler
 * instead. Send the process SIGUSR2 once it is ready to drop its start-up from the profile.
 */
export function cpuProfileEnv(file: string): Record<string, string> {
  return {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import ${PROFILE_HOOK}`].filter(Boolean).join(" "),
    CHAOSCART_CPU_PROFILE: path.resolve(file),
  };
}
