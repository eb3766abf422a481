-- Units and their ownership (docs/architecture.md §Regions, issue "active-active, part 1" §2).
--
-- Users hash into slots; each slot has one home region at a time, with an epoch that grows with
-- every move. This table is the authority: an order is placed only if the placing region owns the
-- user's slot here, checked in the placing statement under a share lock on the slot's row (the
-- fencing token). A move updates the row at the current owner first: it waits for the placements in
-- flight, and no placement after it can pass the check, so the region that lost a slot never writes
-- for it again, whatever its clock or its gateways' routing tables say. The new owner starts writing
-- only when the move reached it through the relay (a higher epoch replaces a lower one, never the
-- reverse), so no two regions own a slot at once; in between, neither places for it.
CREATE TABLE slot_owner (
  slot       integer PRIMARY KEY CHECK (slot >= 0),
  region     text NOT NULL,
  epoch      bigint NOT NULL CHECK (epoch >= 1),
  changed_at timestamptz NOT NULL DEFAULT now()
);
