/**
 * The service credential (CHAOSCART_SERVICE_TOKEN): what one shop service shows another. Internal
 * routes — the inventory's reservations, the payment provider's operations, the order service behind
 * the gateway — are registered in the `internal` realm (bearer-token.ts), whose every request must
 * carry `Authorization: Bearer <token>`, else 401 before the body is read.
 */

/** The header a client of an internal route sends. */
export function serviceAuthorization(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
