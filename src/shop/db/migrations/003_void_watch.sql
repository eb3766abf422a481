-- Cancelled orders whose payment may still hold an authorization at the provider (issue: open
-- authorizations on cancelled orders). An order cancelled after it sent an authorize keeps a row
-- here until the provider confirmed that no authorization of it is open: voided, declined, or none
-- found once `watch_until` passed (a provider may apply an authorize after its caller gave up; one
-- that lands later than the window is outside the contract the setting states).
CREATE TABLE payment_void_watch (
  order_id    text PRIMARY KEY REFERENCES orders (id),
  watch_until timestamptz NOT NULL,
  next_check  timestamptz NOT NULL DEFAULT now(),
  attempts    integer NOT NULL DEFAULT 0,
  closed_at   timestamptz,
  -- How the watch ended: the authorization was voided, declined, refunded, or none ever appeared.
  outcome     text CHECK (outcome IN ('voided', 'declined', 'refunded', 'none')),
  CHECK ((closed_at IS NULL) = (outcome IS NULL))
);

CREATE INDEX payment_void_watch_due ON payment_void_watch (next_check) WHERE closed_at IS NULL;
