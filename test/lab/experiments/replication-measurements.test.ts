import { describe, expect, it } from "vitest";
import { type ReplicationSample, replicationMeasurements } from "../../../src/lab/experiments/replication.ts";

const sample = (time: number, fields: Partial<ReplicationSample>): ReplicationSample => ({
  time,
  state: "streaming",
  syncState: "sync",
  flushLagBytes: 0,
  replayLagBytes: 0,
  flushLagMs: 1,
  replayLagMs: 1,
  ...fields,
});

describe("replication measurements", () => {
  it("reports the worst lag and the share of samples in sync, ignoring unread samples", () => {
    const m = replicationMeasurements({
      requested: "sync",
      atStart: sample(0, {}),
      samples: [
        sample(0, { flushLagBytes: 960 }),
        sample(1_000, { syncState: "async", replayLagBytes: 4_096, replayLagMs: 1_500 }),
        sample(2_000, { state: null, syncState: null, error: "connection refused" }),
        sample(3_000, { state: "none", syncState: null, flushLagBytes: null, replayLagBytes: null }),
      ],
    });
    expect(m).toEqual({
      replication_flush_lag_max_bytes: 960,
      replication_replay_lag_max_bytes: 4_096,
      replication_replay_lag_max_ms: 1_500,
      replication_sync_share: 1 / 3,
    });
  });

  it("measures nothing when replication was not observed", () => {
    expect(Object.values(replicationMeasurements(undefined))).toEqual([null, null, null, null]);
  });
});
