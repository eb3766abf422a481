-- The outbox log's horizon, and a relay's wait for news in it (src/shop/relay/outbox-log.ts).
--
-- outbox_horizon(): the oldest transaction still running that may write the outbox, or the next xid
-- to be assigned when none is (why, and why sessions declared in outbox_free_session are left out:
-- outbox-log.ts). STABLE: it sees the calling statement's snapshot, so a read that scans the outbox
-- and computes the horizon in one statement gets both from the same instant.
CREATE FUNCTION outbox_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(s.snap) x
     WHERE xid(x) NOT IN (
       SELECT a.backend_xid FROM pg_stat_activity a JOIN outbox_free_session f ON a.application_name LIKE f.pattern
       WHERE a.backend_xid IS NOT NULL)),
    pg_snapshot_xmax(s.snap))
  FROM (SELECT pg_current_snapshot() AS snap) s
$$;

-- outbox_wait(): returns true as soon as a read after the position would find something (a committed
-- row below the horizon, or the log pruned past the position: the relay must see its gap), false
-- once timeout_ms passed. An idle relay used to read the log every 5-20 ms, each read a round trip
-- through the relay, the lab's fault link and a backend reading pg_stat_activity: about 7 % of a core
-- per idle relay on the 2-core bench host, and a change still waited up to a poll for its read. Here
-- each check is an index probe, the horizon computed only when rows wait above the position.
-- VOLATILE: each check takes a fresh snapshot; pg_stat_clear_snapshot() because a transaction reads
-- pg_stat_activity once and keeps it. No writer is involved: a NOTIFY from the order path would
-- serialise every commit of the cluster on the lock PreCommit_Notify takes (on "database 0"), held
-- until the commit, the synchronous standby's confirmation included, is done.
CREATE FUNCTION outbox_wait(after_txid xid8, after_id bigint, timeout_ms int, poll_ms int)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_ms / 1000.0);
  horizon xid8;
BEGIN
  LOOP
    IF EXISTS (SELECT 1 FROM outbox_pruned WHERE (txid, id) > (after_txid, after_id)) THEN
      RETURN true;
    END IF;
    -- ORDER BY and LIMIT, not EXISTS: for EXISTS the planner expects a match early and scans the
    -- table (0.16 ms on 2,300 rows, every check, the whole wait: 13 % of a core), where the
    -- (txid, id) index finds the first row after the position, or none, at once.
    PERFORM 1 FROM outbox WHERE (txid, id) > (after_txid, after_id) ORDER BY txid, id LIMIT 1;
    IF FOUND THEN
      PERFORM pg_stat_clear_snapshot();
      horizon := outbox_horizon();
      -- Rows of transactions below that horizon had all committed when it was taken: this later
      -- snapshot sees every one of them.
      PERFORM 1 FROM outbox WHERE (txid, id) > (after_txid, after_id) AND txid < horizon
        ORDER BY txid, id LIMIT 1;
      IF FOUND THEN
        RETURN true;
      END IF;
    END IF;
    IF clock_timestamp() >= deadline THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(poll_ms / 1000.0);
  END LOOP;
END
$$;
