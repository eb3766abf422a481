-- The outbox as a log that can be read in commit order (docs/architecture.md §Regions, issue
-- "active-active, part 1" §3). An id or a timestamp assigned at insert is not commit order: a reader
-- whose cursor is the last id it saw skips a row whose transaction commits after a later row's. Each
-- row records the id of the transaction that wrote it; a reader takes only rows whose transaction is
-- older than the oldest one still running (`pg_snapshot_xmin(pg_current_snapshot())`): that set can
-- no longer grow, so a cursor on (txid, id) within it never skips or repeats a row.
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE INDEX outbox_by_txid ON outbox (txid, id);

-- How far each consumer (a peer region's relay) has read: the last (txid, id) it confirmed. Kept in
-- the same database as the outbox, so it fails over with the data.
CREATE TABLE outbox_cursor (
  consumer   text PRIMARY KEY,
  txid       xid8 NOT NULL,
  id         bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
