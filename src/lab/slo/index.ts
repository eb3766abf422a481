export { type Completion, completions, isGood, successRate } from "./completions.ts";
export { errorRate } from "./error-rate.ts";
export { type LatencySummary, latencySummary } from "./latency.ts";
export { sloByPhase } from "./phases.ts";
export { type RecoveryOptions, recoveryTimeMs } from "./recovery.ts";
export { timeline } from "./timeline.ts";
