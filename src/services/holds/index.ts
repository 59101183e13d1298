// Holds: create.ts grants one (through ../hold-pipeline), read.ts reads it, release.ts
// releases it, expire.ts expires it, locking.ts locks it for a transaction that changes it.
export { type CreateHoldInput, createHold, HOLDS_SCOPE } from "./create";
export { expireHold, expireHolds } from "./expire";
export { holdAlreadyUsed, type LockedHold, lockHold, ownedBy } from "./locking";
export { getHold } from "./read";
export { releaseHold } from "./release";
