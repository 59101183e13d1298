import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { runStatements } from "../../db/connection";
import { AppError } from "../../errors";
import type { BuyerId } from "../buyers";
import type { LockedProduct } from "../products/stock";
import { integers, type LineRow, lineColumns, lineOf, timeLiteral } from "./line";
import { needsBuyer } from "./room";
import { admissionOfTicket, latestTickets, type Ticket, toTicketView } from "./tickets";

// The hold's admission check, inside the hold batch's transaction and by the database's clock
// (the moment the batch locked the product, which is also the holds' created_at), as for the
// sale window: no process's clock admits anyone. Only products with a waiting room pay for it.

/** 409 `not_admitted`, with the buyer's position and, while the ticket waits, Retry-After. */
export function notAdmitted(productId: number, position: number | null, retryAfter?: number) {
  const detail =
    position === null
      ? `Join the waiting room of product ${productId} (POST /api/products/${productId}/queue) and wait for your turn.`
      : `Your turn in the waiting room of product ${productId} has not come, or has passed.`;
  return new AppError("not_admitted", detail, { position }, retryAfter);
}

/**
 * Decides, for each undecided request of a batch on a product with a waiting room, whether its
 * buyer is admitted at `product.now`; refuses the others. The admissions it relies on are
 * written on their tickets in the same transaction (the value the admission job would write),
 * so a hold's ticket always shows when its buyer was admitted.
 */
export async function checkAdmission(
  tx: Tx,
  product: LockedProduct,
  batch: { buyer: BuyerId }[],
  decided: ReadonlySet<number>,
): Promise<Map<number, AppError>> {
  const refusals = new Map<number, AppError>();
  const refuse = (index: number, error: AppError) => refusals.set(index, error);
  const { admissionSeconds } = product;
  const now = product.now.getTime();
  integers(product.id);
  const known = [
    ...new Set(batch.flatMap((r, i) => (decided.has(i) || r.buyer === null ? [] : [r.buyer]))),
  ];
  // Not locked: every change of the line's segment writes the admissions it ends first, and a
  // change of settings waits for this batch's product lock; the formula gives the same value
  // from the row before or after a concurrent join.
  const [rows] = (await tx.execute(
    sql.raw(`SELECT ${lineColumns("w")} FROM waiting_rooms w WHERE w.product_id = ${product.id}`),
  )) as unknown as [LineRow[]];
  const latest = await latestTickets(tx, product.id, known);
  const line = rows[0] && lineOf(rows[0]);
  const toWrite: { ticket: Ticket; at: number; until: number }[] = [];
  for (const [i, { buyer }] of batch.entries()) {
    if (decided.has(i)) continue;
    if (buyer === null) {
      refuse(i, needsBuyer(product.id));
      continue;
    }
    const ticket = latest.get(buyer);
    if (!line || !ticket) {
      refuse(i, notAdmitted(product.id, null));
      continue;
    }
    const admission = admissionOfTicket(ticket, line, now, admissionSeconds);
    if (admission && now < admission.until) {
      if (ticket.admittedAt === null && !toWrite.some((w) => w.ticket === ticket)) {
        toWrite.push({ ticket, ...admission });
      }
      continue;
    }
    const waiting = admission
      ? undefined
      : toTicketView(ticket, line, now, admissionSeconds, product.saleStartsAt?.getTime() ?? null);
    refuse(i, notAdmitted(product.id, ticket.position, waiting?.retryAfter));
  }
  if (toWrite.length > 0) await runStatements(tx, [admissionsWrite(toWrite)]);
  return refusals;
}

/** The admissions of tickets not yet written, in one UPDATE. */
function admissionsWrite(tickets: { ticket: Ticket; at: number; until: number }[]): string {
  integers(...tickets.map((t) => t.ticket.id));
  const at = tickets.map((t) => `WHEN ${t.ticket.id} THEN ${timeLiteral(t.at)}`).join(" ");
  const until = tickets.map((t) => `WHEN ${t.ticket.id} THEN ${timeLiteral(t.until)}`).join(" ");
  const ids = tickets.map((t) => t.ticket.id).join(",");
  return `UPDATE queue_tickets SET admitted_at = CASE id ${at} END, admitted_until = CASE id ${until} END WHERE id IN (${ids}) AND admitted_at IS NULL`;
}
