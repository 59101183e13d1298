import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { query, transact } from "../../db/transaction";
import { type CommitGuard, Deadline } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import type { SeenLine, ServedTicket } from "../../state/ticket-board";
import type { BuyerId } from "../buyers";
import { parseDbTime } from "../views";
import { publishLine } from "./join";
import { hexLiteral, integers, type LineRow, lineColumns, lineOf } from "./line";
import { draw, lockLine, materializeStatement, saveLineStatement, writeLine } from "./locked";
import {
  drawDue,
  needsBuyer,
  noWaitingRoom,
  readRoomProduct,
  roomProductColumns,
  roomProductOf,
  roomRefusal,
  ticketNotFound,
} from "./room";
import {
  standingOf,
  type Ticket,
  type TicketRow,
  ticketColumns,
  ticketOf,
  viewOf,
} from "./tickets";

// Reading a ticket: the request a waiting buyer repeats while the line moves, so it is one
// statement (the product's settings, the line and the buyer's latest ticket, with the database's
// clock) and no transaction; only a read that finds the draw due runs it first.

type ReadRow = Partial<TicketRow> &
  Partial<LineRow> & {
    pid: number | string;
    line_product_id: number | string | null;
    ticket_id: number | string | null;
    admit_per_second: number | null;
    admission_seconds: number | null;
    sale_starts_at: Date | string | null;
    sale_ends_at: Date | string | null;
    now: Date | string;
  };

/** A ticket's answer: its JSON body and a waiting ticket's Retry-After (seconds). */
export type TicketAnswer = Pick<ServedTicket, "body" | "retryAfter">;

/**
 * The buyer's ticket answered from this process's copy (state/ticket-board.ts) with no wait:
 * undefined when the copy lacks the ticket or its line, or the ticket's copy is outdated, for
 * getTicket to read them.
 */
export function peekTicket(
  deps: Deps,
  productId: number,
  buyer: BuyerId,
): ServedTicket | undefined {
  if (buyer === null) return undefined;
  const known = deps.ticketBoard.ticket(productId, buyer);
  const seen = known && deps.ticketBoard.line(productId);
  if (!known || !seen || outdated(known, seen)) return undefined;
  return answerOf(deps, known, seen, deps.clock() + seen.offsetMs);
}

/**
 * Whether this process's copy of a ticket is older than the line it would be shown with: the
 * line has written admissions past the ticket's position (before a rebase, on any process),
 * while the copy has none. Its admission then lies in a segment of the line that the copy of
 * the line no longer holds, so only the row can say it.
 */
function outdated(ticket: Ticket, seen: SeenLine): boolean {
  return (
    ticket.admittedAt === null &&
    ticket.position !== null &&
    ticket.position <= seen.line.materialized
  );
}

/** The buyer's latest ticket for the product, as the API shows it now. */
export async function getTicket(
  deps: Deps,
  productId: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<ServedTicket> {
  integers(productId);
  const known = buyer === null ? undefined : deps.ticketBoard.ticket(productId, buyer);
  // A ticket this process knows: only the line is needed, one read shared by every buyer.
  const seen = known && (deps.ticketBoard.line(productId) ?? (await seeLine(deps, productId)));
  if (known && seen && !outdated(known, seen)) {
    return answerOf(deps, known, seen, deps.clock() + seen.offsetMs);
  }
  for (let attempt = 0; ; attempt++) {
    const row = await query(deps, deadline, (db) => readTicketRow(db, productId, buyer));
    const product = row && roomProductOf({ ...row, id: row.pid });
    const refusal = roomRefusal(product, productId);
    if (refusal) throw refusal;
    if (!row || !product || row.line_product_id === null) throw noWaitingRoom(productId);
    if (buyer === null) throw needsBuyer(productId);
    if (row.ticket_id === null) throw ticketNotFound(productId);
    const line = lineOf({ ...(row as LineRow), product_id: row.line_product_id });
    const now = parseDbTime(row.now).getTime();
    const ticket = ticketOf({ ...(row as TicketRow), id: row.ticket_id });
    const read: SeenLine = { line, product, offsetMs: now - deps.clock() };
    deps.ticketBoard.saw(read, [ticket]);
    // A ticket from before the opening, read after it while nobody has drawn yet: draw now.
    if (ticket.position === null && attempt === 0 && drawDue(line.unplaced, product, now)) {
      await drawNow(deps, productId, deadline);
      continue;
    }
    return answerOf(deps, ticket, read, now);
  }
}

/**
 * The ticket's answer at `now`: the one last served, while it was made from the same copy of
 * the line and shows the same, else serialised anew (what the cached product read saves too).
 */
function answerOf(deps: Deps, ticket: Ticket, seen: SeenLine, now: number): ServedTicket {
  const { line, product } = seen;
  const standing = standingOf(ticket, line, now, product.admissionSeconds, product.saleStartsAt);
  const last = deps.ticketBoard.served(ticket);
  if (
    last?.seen === seen &&
    last.state === standing.state &&
    last.ahead === standing.ahead &&
    last.retryAfter === standing.retryAfter
  ) {
    return last;
  }
  const { state, ahead, retryAfter } = standing;
  const answer = { seen, state, ahead, retryAfter, body: JSON.stringify(viewOf(ticket, standing)) };
  deps.ticketBoard.serve(ticket, answer);
  return answer;
}

/**
 * The product's line as the database has it now, read once however many reads want it at the
 * same moment; undefined when the product has no waiting room (the full read then says why).
 */
function seeLine(deps: Deps, productId: number): Promise<SeenLine | undefined> {
  return deps.ticketBoard.loadLine(productId, async () => {
    const deadline = Deadline.start(deps.config.REQUEST_TIMEOUT_MS);
    try {
      const row = await query(deps, deadline, (db) => readTicketRow(db, productId, null));
      const product = row && roomProductOf({ ...row, id: row.pid });
      if (!row || !product || product.admitPerSecond === null || row.line_product_id === null) {
        return undefined;
      }
      const line = lineOf({ ...(row as LineRow), product_id: row.line_product_id });
      return { line, product, offsetMs: parseDbTime(row.now).getTime() - deps.clock() };
    } finally {
      deadline.clear();
    }
  });
}

async function readTicketRow(
  db: Tx,
  productId: number,
  buyer: BuyerId,
): Promise<ReadRow | undefined> {
  // The latest ticket as a derived table of one row (the buyer's index, newest first): read
  // once, where a correlated MAX(id) in the join made MariaDB scan the product's tickets.
  const latest =
    buyer === null
      ? "SELECT NULL AS id, NULL AS product_id, NULL AS buyer_id, NULL AS position, NULL AS joined_at, NULL AS admitted_at, NULL AS admitted_until"
      : `SELECT ${ticketColumns("q")} FROM queue_tickets q WHERE q.product_id = ${productId} AND q.buyer_id = ${hexLiteral(buyer)} ORDER BY q.id DESC LIMIT 1`;
  const [rows] = (await db.execute(
    sql.raw(
      `SELECT p.id AS pid, ${roomProductColumns("p")}, w.product_id AS line_product_id, ${lineColumns("w")}, t.id AS ticket_id, ${ticketColumns("t")}, NOW(3) AS now FROM products p LEFT JOIN waiting_rooms w ON w.product_id = p.id LEFT JOIN (${latest}) t ON TRUE WHERE p.id = ${productId}`,
    ),
  )) as unknown as [ReadRow[]];
  return rows[0];
}

/** Runs the draw if it is due (by the database's clock, under the line's lock). */
export async function drawNow(deps: Deps, productId: number, deadline: CommitGuard): Promise<void> {
  const drawn = await transact(deps, deadline, async (tx) => {
    const locked = await lockLine(tx, productId);
    const product = await readRoomProduct(tx, productId);
    if (!locked || !product || !drawDue(locked.line.unplaced, product, locked.now)) return;
    const { line, now } = locked;
    const materialize = materializeStatement(line, now, product.admissionSeconds ?? 0);
    await draw(tx, line, product.saleStartsAt ?? now);
    await writeLine(tx, [materialize, saveLineStatement(line)]);
    return locked;
  });
  if (drawn) publishLine(deps, drawn.line, drawn.now);
}
