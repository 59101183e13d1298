// What the shopper routes declare alike: security, tag, the problems they share.

/** A buyer token, or nothing in anonymous mode (neither BUYER_JWT_SECRET nor BUYER_JWKS_URL). */
export const shopper: Record<string, string[]>[] = [{ buyer: [] }, {}];
export const tags = ["shop"];

export const unauthorized = {
  unauthorized: "no valid buyer token where buyer tokens are configured",
};
export const rateLimited = {
  too_many_requests:
    "the client passed SHOPPER_RATE_PER_SECOND; nothing changed, Retry-After says when to retry",
};
export const unavailable = {
  service_unavailable:
    "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
};
export const invalid = { validation_failed: "a path parameter, header or body field is not valid" };
