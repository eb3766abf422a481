-- Bounded outbox retention (docs/architecture.md §Regions, issue "active-active, part 1" §3).
--
-- The outbox is the change stream the relays ship to peer regions. Rows every consumer confirmed
-- are pruned after a while; rows older than the retention bound are pruned even if a peer has not
-- confirmed them (a peer down for longer must not make its source grow without end). Such a peer
-- has a gap in its stream: it learns of it here and catches up by reconciliation instead.
CREATE TABLE outbox_pruned (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  -- Every outbox row at or below this position may be gone.
  txid      xid8 NOT NULL,
  id        bigint NOT NULL,
  pruned_at timestamptz NOT NULL DEFAULT now()
);
