-- A relay's wait for news (migration 012) backs off while its log stays empty: it checks after
-- poll_ms, then waits twice as long after every empty check, up to poll_max_ms. Checking every 2 ms,
-- the wait of a relay whose region took no orders cost the source primary about 4 % of a core for
-- as long as the other region sold (hundreds of checks a second, each a snapshot and two index
-- probes); backing off to 16 ms, it makes about 70 a second. A committed row waiting behind an older
-- writer still in progress (above the horizon) brings the interval back to poll_ms: a commit is near.
DROP FUNCTION outbox_wait(xid8, bigint, int, int);

CREATE FUNCTION outbox_wait(after_txid xid8, after_id bigint, timeout_ms int, poll_ms int, poll_max_ms int)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_ms / 1000.0);
  pause_ms int := poll_ms;
  horizon xid8;
BEGIN
  LOOP
    IF EXISTS (SELECT 1 FROM outbox_pruned WHERE (txid, id) > (after_txid, after_id)) THEN
      RETURN true;
    END IF;
    -- ORDER BY and LIMIT, not EXISTS: for EXISTS the planner expects a match early and scans the
    -- table, where the (txid, id) index finds the first row after the position, or none, at once.
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
      pause_ms := poll_ms;
    END IF;
    IF clock_timestamp() >= deadline THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(least(pause_ms / 1000.0, greatest(0, extract(epoch FROM deadline - clock_timestamp()))));
    pause_ms := least(pause_ms * 2, greatest(poll_ms, poll_max_ms));
  END LOOP;
END
$$;
