/**
 * The toxic registry: type name → toxic (its attribute schema and its per-connection run). Adding a toxic
 * is one new file in this folder and one line here.
 */
import { bandwidth } from "./bandwidth.ts";
import { capacity } from "./capacity.ts";
import { latency } from "./latency.ts";
import { limitData } from "./limit-data.ts";
import { resetPeer } from "./reset-peer.ts";
import { slicer } from "./slicer.ts";
import { slowClose } from "./slow-close.ts";
import { timeout } from "./timeout.ts";
import type { Toxic } from "./toxic.ts";

export const TOXICS = {
  latency,
  bandwidth,
  slicer,
  timeout,
  reset_peer: resetPeer,
  slow_close: slowClose,
  limit_data: limitData,
  capacity,
} as const;

export type ToxicType = keyof typeof TOXICS;
export const TOXIC_TYPES = Object.keys(TOXICS) as [ToxicType, ...ToxicType[]];

export function toxicOf(type: string): Toxic | undefined {
  return Object.hasOwn(TOXICS, type) ? (TOXICS as Record<string, Toxic>)[type] : undefined;
}

export type { Toxic, ToxicRun, ToxicStub } from "./toxic.ts";
