import type { Tx } from "../../db/client";
import { type MerchantEventType, merchantEvents } from "../../db/schema";

export type NewEvent = { type: MerchantEventType; orderId: number; data: unknown };

/**
 * Writes merchant events into the outbox, in the caller's transaction: orders/changes.ts calls
 * it with each order change, so an event is committed exactly when its change is.
 */
export async function recordEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.insert(merchantEvents).values(
    events.map((event) => ({
      type: event.type,
      orderId: event.orderId,
      data: JSON.stringify(event.data),
    })),
  );
}
