-- Orders replicated between regions (docs/architecture.md §Regions, issue "active-active, part 1" §3, §4).
--
-- A region's database holds its own orders and copies of its peers'. A copy is state, not a log of
-- operations: the relay ships an order's current version, and the peer keeps whichever of the two
-- versions wins the deterministic order of src/shop/domain/conflicts.ts (business precedence, then
-- HLC, then region), so applying a version twice or out of order changes nothing.

-- The HLC and region of the change that produced the row's current version (`hlc` stays the
-- placement stamp). NULL on rows written before this migration: read as (hlc, home_region).
ALTER TABLE orders ADD COLUMN version_hlc text;
ALTER TABLE orders ADD COLUMN version_region text;

-- Only the home region drives an order's saga; copies of a peer's in-flight orders are never claimed.
CREATE INDEX orders_in_flight_by_home ON orders (home_region, lease_until)
  WHERE state IN ('PENDING', 'RESERVED', 'PAID');

-- How far this database has applied each peer's change stream: written in the transaction that
-- applied the changes, so the position and the data can never disagree (a relay that crashes between
-- applying and confirming at the source resumes from here and repeats nothing).
CREATE TABLE replication_applied (
  source_region text PRIMARY KEY,
  txid          xid8 NOT NULL,
  id            bigint NOT NULL,
  -- The source's commit-side clock of the newest change applied: replication lag = applied_at - this.
  source_at     timestamptz NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now()
);

-- Every resolution between two different versions of one order written by different regions, or two
-- orders for one idempotency key: both versions, which was kept and why.
CREATE TABLE conflict_log (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('concurrent-versions', 'key-collision')),
  order_id    text NOT NULL,
  kept        jsonb NOT NULL,
  discarded   jsonb NOT NULL,
  resolved_by text NOT NULL,
  resolved_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX conflict_log_by_order ON conflict_log (order_id);
