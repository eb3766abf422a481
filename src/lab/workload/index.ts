export { type ArrivalProcess, type ArrivalSchedule, arrivalTimes } from "./arrivals.ts";
export { type ClientOptions, parseRetryAfter, WorkloadClient } from "./client.ts";
export {
  CLIENT_OVERLOADED,
  runWorkload,
  type WorkloadOptions,
  type WorkloadProgress,
  type WorkloadResult,
} from "./generator.ts";
export { type Catalogue, DEFAULT_MIX, type OperationMix, type PlannedOp } from "./operations.ts";
export {
  classifyOrder,
  classifyRead,
  isRetryable,
  mayHaveTakenEffect,
  type Outcome,
  type PollResult,
  type Reply,
} from "./outcome.ts";
export { Rng, randomSeed } from "./rng.ts";
