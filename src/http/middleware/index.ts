// The app's own middleware, one a file: buyer.ts names the shopper from a buyer token (and
// buyerOf reads it back), admin-auth.ts checks the operator's bearer token, webhook-signature.ts
// and stripe-signature.ts verify a payment provider's signature over the raw body.

export { adminAuth } from "./admin-auth";
export { type BuyerVariables, buyerAuth, buyerOf } from "./buyer";
export { stripeSignature } from "./stripe-signature";
export { webhookSignature } from "./webhook-signature";
