-- An order version's place in the total order that resolves conflicts between regions, as one
-- string: the SQL twin of versionKey() in src/shop/domain/conflicts.ts (precedence, then HLC, then
-- region, then the unranked fields), so the relay's apply statement compares the version a region
-- holds with an incoming one in the database, in the round trip that writes it. Compare keys with
-- COLLATE "C" (code-unit order, as JavaScript compares strings). The two are held to the same
-- strings by test/shop/relay/version-key.test.ts.
CREATE FUNCTION chaoscart_version_key(state text, cancel_reason text, payment text, hlc text, region text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT concat_ws(' ',
    CASE state
      WHEN 'PENDING'   THEN CASE WHEN cancel_reason IS NULL THEN 0 ELSE 3 END
      WHEN 'RESERVED'  THEN CASE WHEN cancel_reason IS NULL THEN 1 ELSE 3 END
      WHEN 'PAID'      THEN CASE WHEN cancel_reason IS NULL THEN 2 ELSE 3 END
      WHEN 'CANCELLED' THEN CASE WHEN payment = 'REFUNDED' THEN 6 ELSE 4 END
      WHEN 'CONFIRMED' THEN 5
    END,
    hlc, region, state, coalesce(cancel_reason, '-'), coalesce(payment, '-'))
$$;
