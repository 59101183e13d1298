import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import type { Ticket } from "../../lib/waiting-room";
import { parseDbTime } from "../views";
import { admittedAtOf, hexLiteral, integers, type Line, servingAt } from "./line";
import { admissionOf } from "./locked";

export type { Ticket };

// A ticket as stored and as the API shows it. Its admission is read from the row once written,
// else computed from the line's present segment: the value the admission job, a hold or a
// rebase writes later (a rebase first writes every admission its segment made).

export type TicketState = "waiting" | "admitted" | "expired";

export type TicketView = {
  ticket_id: number;
  product_id: number;
  buyer_id: string;
  position: number | null;
  state: TicketState;
  ahead: number | null;
  joined_at: string;
  admitted_at: string | null;
  admitted_until: string | null;
};

export type TicketRow = {
  id: number | string;
  product_id: number | string;
  buyer_id: Buffer | string;
  position: number | null;
  joined_at: Date | string;
  admitted_at: Date | string | null;
  admitted_until: Date | string | null;
};

const ms = (value: Date | string | null) => (value === null ? null : parseDbTime(value).getTime());

export function ticketOf(row: TicketRow): Ticket {
  return {
    id: Number(row.id),
    productId: Number(row.product_id),
    buyerId: String(row.buyer_id),
    position: row.position === null ? null : Number(row.position),
    joinedAt: ms(row.joined_at) as number,
    admittedAt: ms(row.admitted_at),
    admittedUntil: ms(row.admitted_until),
  };
}

export const ticketColumns = (alias: string) =>
  ["id", "product_id", "buyer_id", "position", "joined_at", "admitted_at", "admitted_until"]
    .map((column) => `${alias}.${column}`)
    .join(", ");

/**
 * The ticket's admission by `now`: written on the row, or computed from the line while the room
 * has settings (`admissionSeconds`); undefined while it waits.
 */
export function admissionOfTicket(
  ticket: Ticket,
  line: Line,
  now: number,
  admissionSeconds: number | null,
): { at: number; until: number } | undefined {
  if (ticket.admittedAt !== null && ticket.admittedUntil !== null) {
    return ticket.admittedAt <= now
      ? { at: ticket.admittedAt, until: ticket.admittedUntil }
      : undefined;
  }
  if (ticket.position === null || admissionSeconds === null) return undefined;
  return admissionOf(line, ticket.position, now, admissionSeconds);
}

/** Whether the ticket is still live at `now`: waiting, or admitted and not yet expired. */
export function isLive(
  ticket: Ticket,
  line: Line,
  now: number,
  admissionSeconds: number | null,
): boolean {
  const admission = admissionOfTicket(ticket, line, now, admissionSeconds);
  return admission === undefined || now < admission.until;
}

/** What a ticket's answer shows at `now` that moves with time and the line. */
export type Standing = {
  admission: { at: number; until: number } | undefined;
  state: TicketState;
  ahead: number | null;
  /** A waiting ticket's Retry-After (seconds). */
  retryAfter?: number;
};

export function standingOf(
  ticket: Ticket,
  line: Line,
  now: number,
  admissionSeconds: number | null,
  opensAt: number | null,
): Standing {
  const admission = admissionOfTicket(ticket, line, now, admissionSeconds);
  if (admission) {
    return { admission, state: now < admission.until ? "admitted" : "expired", ahead: 0 };
  }
  if (ticket.position === null) {
    // Placed at the opening; its turn comes after the draw.
    return {
      admission,
      state: "waiting",
      ahead: null,
      retryAfter: seconds((opensAt ?? now) - now),
    };
  }
  const ahead = Math.max(0, ticket.position - 1 - servingAt(line, now));
  // When the line reaches it at the present rate; a paused line is asked again in a while.
  const wait = line.rate === 0 ? PAUSED_RETRY_MS : admittedAtOf(line, ticket.position) - now;
  return { admission, state: "waiting", ahead, retryAfter: seconds(wait) };
}

/** The ticket as the API shows it, standing as `standing` says. */
export function viewOf(ticket: Ticket, standing: Standing): TicketView {
  const { admission } = standing;
  return {
    ticket_id: ticket.id,
    product_id: ticket.productId,
    buyer_id: ticket.buyerId,
    position: ticket.position,
    state: standing.state,
    ahead: standing.ahead,
    joined_at: new Date(ticket.joinedAt).toISOString(),
    admitted_at: admission ? new Date(admission.at).toISOString() : null,
    admitted_until: admission ? new Date(admission.until).toISOString() : null,
  };
}

/** The ticket as the API shows it at `now`, and a waiting one's Retry-After (seconds). */
export function toTicketView(
  ticket: Ticket,
  line: Line,
  now: number,
  admissionSeconds: number | null,
  opensAt: number | null,
): { view: TicketView; retryAfter?: number } {
  const standing = standingOf(ticket, line, now, admissionSeconds, opensAt);
  const view = viewOf(ticket, standing);
  return standing.retryAfter === undefined ? { view } : { view, retryAfter: standing.retryAfter };
}

const PAUSED_RETRY_MS = 10_000;

/** Seconds to wait, rounded up, at least 1 and at most an hour. */
const seconds = (waitMs: number) => Math.min(3600, Math.max(1, Math.ceil(waitMs / 1000)));

/** Each buyer's latest ticket for the product (under the line's lock in a join). */
export async function latestTickets(
  tx: Tx,
  productId: number,
  buyers: string[],
): Promise<Map<string, Ticket>> {
  if (buyers.length === 0) return new Map();
  const [rows] = (await tx.execute(
    sql.raw(latestTicketsStatement(productId, buyers)),
  )) as unknown as [unknown];
  return latestTicketsOf(rows);
}

/** The read of each of (at least one) buyers' latest ticket for the product. */
export function latestTicketsStatement(productId: number, buyers: string[]): string {
  integers(productId);
  const list = buyers.map(hexLiteral).join(",");
  return `SELECT ${ticketColumns("t")} FROM queue_tickets t JOIN (SELECT MAX(id) AS id FROM queue_tickets WHERE product_id = ${productId} AND buyer_id IN (${list}) GROUP BY buyer_id) m ON m.id = t.id`;
}

/** Each buyer's ticket in `latestTicketsStatement`'s rows. */
export function latestTicketsOf(rows: unknown): Map<string, Ticket> {
  const latest = new Map<string, Ticket>();
  for (const row of rows as TicketRow[]) {
    const ticket = ticketOf(row);
    latest.set(ticket.buyerId, ticket);
  }
  return latest;
}
