export { type Completion, completions, isGood, successRate } from "./completions.ts";
export { errorRate } from "./error-rate.ts";
export { describeFailureKind, type FailureKind, failureKinds } from "./failures.ts";
export { type LatencySummary, latencySummary } from "./latency.ts";
export { sloByPhase } from "./phases.ts";
export { readinessMeasurements, targetService } from "./readiness.ts";
export { type RecoveryOptions, recoveryTimeMs } from "./recovery.ts";
export { timeline } from "./timeline.ts";
