// Merchant events, the outbox of order changes sent to MERCHANT_WEBHOOK_URL: record.ts writes
// them (orders/changes.ts calls it in each change's transaction), due.ts finds what is due and
// leases it to this process, send.ts signs and sends one delivery (and the retry backoff),
// outcomes.ts records what became of each attempt, feed.ts is the operator's feed, redelivery
// and purges. jobs/merchant-dispatcher.ts schedules the claims and sends.

export {
  type EventPageInput,
  listMerchantEvents,
  type MerchantEventView,
  purgeDeliveredEvents,
  purgeUnsentEvents,
  redeliverEvent,
} from "./feed";
export { backoffMs } from "./send";
