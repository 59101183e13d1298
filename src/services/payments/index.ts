// Payments: webhook.ts applies a provider's payment event to its order (the first decides, a
// later one that disagrees is a conflict; one that outruns its order waits, deferred, for the
// order's own transaction), deferred.ts is the sweeper's safety net for deferred events left
// beside an existing order and their purge, conflicts.ts lists the conflicts (the refunds to
// make) and records the operator's resolution, stripe.ts maps Stripe's events onto webhook.ts
// (a refund of a PaymentIntent that paid an order recorded as a resolved conflict), replies.ts
// what an event answers, and answers again when it was recorded already.

export {
  type ConflictPageInput,
  listPaymentConflicts,
  type ResolveConflictInput,
  resolvePaymentConflict,
} from "./conflicts";
export { applyStrandedEvents, purgeDeferredEvents } from "./deferred";
export type { WebhookResult } from "./replies";
export { applyStripeEvent, type StripeEvent } from "./stripe";
export { applyPaymentEvent, type PaymentEventInput } from "./webhook";
