-- Sessions that never write the outbox, by application_name pattern (src/shop/relay/outbox-log.ts).
-- The outbox is read only below the oldest transaction that might still write it. Counting every
-- transaction in the cluster made the inventory's batches (which hold a stock row through a
-- synchronous commit, and wait on each other's locks) stall the relay of every order event; their
-- sessions are declared here instead, and the trigger below makes the declaration a checked one.
CREATE TABLE outbox_free_session (
  pattern text PRIMARY KEY,
  why     text NOT NULL
);

INSERT INTO outbox_free_session (pattern, why) VALUES
  ('chaoscart-inventory%', 'the inventory service: stock and reservations, never an outbox event'),
  ('chaoscart-relay-%', 'a relay: reads its source''s outbox, applies to its peer''s tables, writes neither outbox');

CREATE FUNCTION outbox_refuse_free_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM outbox_free_session WHERE current_setting('application_name') LIKE pattern) THEN
    RAISE EXCEPTION USING ERRCODE = 'CC002',
      MESSAGE = format('session %L is declared outbox-free (outbox_free_session) but wrote the outbox',
                       current_setting('application_name'));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_only_from_writers BEFORE INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_refuse_free_session();
