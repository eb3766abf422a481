// Preload for profiling a service child process: `NODE_OPTIONS="--import <this file>"` with
// CHAOSCART_CPU_PROFILE=<file.cpuprofile>. Node 20 refuses `--cpu-prof` in NODE_OPTIONS, and the lab
// spawns services itself, so the V8 profiler is driven through the inspector instead: it starts here and
// the profile is written when the process exits (the services exit on SIGTERM after a graceful close).
// SIGUSR2 restarts the profile, dropping what came before (start-up, compiling the TypeScript sources).
// Plain JavaScript on purpose: it runs before the service registers tsx.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const target = process.env.CHAOSCART_CPU_PROFILE;
if (target) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  process.on("SIGUSR2", () => {
    session.post("Profiler.stop", () => session.post("Profiler.start"));
  });
  process.once("exit", () => {
    // Same-thread inspector sessions answer synchronously, so this completes inside the exit handler.
    session.post("Profiler.stop", (error, result) => {
      if (!error && result?.profile) writeFileSync(target, JSON.stringify(result.profile));
    });
  });
}
