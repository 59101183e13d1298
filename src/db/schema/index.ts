// The Drizzle schema, a file per room (drizzle.config.ts reads this folder): products.ts,
// waiting-room.ts (the lines and their tickets), holds.ts, orders.ts (with the order gate),
// payments.ts (the provider's events and their conflicts), merchant-events.ts (the outbox),
// idempotency.ts, proofs.ts (the rows that prove a commit: hold batches, commit proofs),
// audit.ts; columns.ts holds the column kinds they share.

export * from "./audit";
export * from "./holds";
export * from "./idempotency";
export * from "./merchant-events";
export * from "./orders";
export * from "./payments";
export * from "./products";
export * from "./proofs";
export * from "./waiting-room";
