-- Orders, payments and the outbox (DESIGN §2, §4), plus the replica heartbeat (§5).

ALTER TABLE sku ADD COLUMN price bigint NOT NULL DEFAULT 1000 CHECK (price >= 0);

CREATE TABLE orders (
  id            text PRIMARY KEY,
  user_id       text NOT NULL,
  idem_key      text NOT NULL UNIQUE,
  request_hash  text NOT NULL,
  home_region   text NOT NULL,
  state         text NOT NULL CHECK (state IN ('PENDING', 'RESERVED', 'PAID', 'CONFIRMED', 'CANCELLED')),
  cancel_reason text,
  items         jsonb NOT NULL,
  total         bigint NOT NULL CHECK (total >= 0),
  hlc           text NOT NULL,
  -- Whoever drives the saga holds a lease; the recovery loop takes over orders whose lease expired.
  lease_owner   text,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- cancel_reason is set when a cancellation is decided, before compensation finishes.
  CHECK (state <> 'CANCELLED' OR cancel_reason IS NOT NULL),
  CHECK (state <> 'CONFIRMED' OR cancel_reason IS NULL)
);

CREATE INDEX orders_in_flight ON orders (lease_until) WHERE state IN ('PENDING', 'RESERVED', 'PAID');

-- The shop's view of the provider: at most one capture per order is enforced by the primary key.
CREATE TABLE payment (
  order_id     text PRIMARY KEY REFERENCES orders (id),
  state        text NOT NULL CHECK (state IN ('AUTHORIZED', 'CAPTURED', 'VOIDED', 'REFUNDED')),
  amount       bigint NOT NULL CHECK (amount >= 0),
  provider_ref text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  aggregate    text NOT NULL,
  aggregate_id text NOT NULL,
  event        text NOT NULL,
  payload      jsonb NOT NULL,
  hlc          text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_by_aggregate ON outbox (aggregate, aggregate_id);

-- Written on the primary every few hundred ms; its age on a replica bounds how stale that replica is.
CREATE TABLE replica_heartbeat (
  region text PRIMARY KEY,
  at     timestamptz NOT NULL
);
