/** Fault links: the lab's TCP proxies with toxics, their registry, control API and client. */
export { type FaultApiOptions, type FaultApiServer, faultApi, startFaultApi } from "./api.ts";
export { FaultApiError, FaultClient, type FaultClientOptions } from "./client.ts";
export {
  FaultLink,
  type FaultLinkOptions,
  type LinkStats,
  type LinkStatus,
  type PartitionInfo,
  type ToxicInfo,
  type Upstream,
} from "./link.ts";
export { LinkRegistry } from "./registry.ts";
export {
  type Direction,
  FaultSpecError,
  type PartitionDirection,
  parsePartitionSpec,
  parseToxicSpec,
  type ToxicSpec,
  type ToxicSpecInput,
} from "./spec.ts";
export { TOXIC_TYPES, TOXICS, type ToxicType } from "./toxics/index.ts";
