-- chaoscart_assert(ok, message): raises `message` (SQLSTATE CC001) unless `ok`. A statement that
-- must abort its transaction when a condition fails, where the transaction's COMMIT is already on
-- its way behind it (src/shop/db/pipelined.ts): the check cannot wait for a round trip to the client.
CREATE FUNCTION chaoscart_assert(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'CC001', MESSAGE = message;
  END IF;
  RETURN true;
END
$$;
