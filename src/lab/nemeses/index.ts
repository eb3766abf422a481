/** Nemeses: the lab's fault catalogue (docs/architecture.md §Lab), each with start/stop and every action logged as data. */
export { ClockOffsetNemesis } from "./clock-offset.ts";
export { FaultController, type StopAllOptions } from "./controller.ts";
export { CpuBurnNemesis, type CpuBurnOptions } from "./cpu-burn.ts";
export { type BlockOptions, EventLoopBlockNemesis } from "./event-loop-block.ts";
export { createNemesis } from "./factory.ts";
export { type KillableProcess, KillNemesis, type KillOptions } from "./kill.ts";
export { LabRequestError, type LabTarget, labRequest } from "./lab-client.ts";
export { type LinkFault, LinkNemesis } from "./link.ts";
export { currentToxicId, healOnly, resetConnections, type ToxicRequest } from "./link-ops.ts";
export { type FaultWindow, NemesisLog } from "./log.ts";
export {
  BaseNemesis,
  type BaseNemesisOptions,
  type Nemesis,
  type NemesisAction,
  NemesisError,
  type NemesisEvent,
  type NemesisListener,
} from "./nemesis.ts";
export { type PausableTarget, PauseNemesis, pausableProcessGroup, pausableService } from "./pause.ts";
export { PaymentNemesis } from "./payment.ts";
export { type FailoverOptions, type FailoverTarget, PrimaryFailoverNemesis } from "./primary-failover.ts";
export { ReadonlyEndpointNemesis } from "./readonly-endpoint.ts";
export { type ReplicaLagMode, ReplicaLagNemesis, type ReplicaLagTarget } from "./replica-lag.ts";
export {
  NEMESIS_KINDS,
  NEMESIS_SCHEMAS,
  type NemesisKind,
  type NemesisSpec,
  NemesisSpecError,
  type NemesisSpecInput,
  type NemesisSpecOf,
  parseDuration,
  parseNemesisSpec,
} from "./spec.ts";
export { linkNames } from "./targets.ts";
