import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { runStatements } from "../../db/connection";
import { Abandoned } from "../../db/errors";
import { transact } from "../../db/transaction";
import { allOf } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, gaveUp } from "../../errors";
import { saleEnded } from "../sale-window";
import type { JoinAnswer, JoinRequest } from "./join-batcher";
import { hexLiteral, integers, type Line, servingAt, timeLiteral } from "./line";
import {
  admissionsWritten,
  draw,
  lockedLineOf,
  lockLine,
  lockLineStatement,
  materializeStatement,
  rebase,
  saveLineStatement,
  standsEmpty,
} from "./locked";
import {
  drawDue,
  needsBuyer,
  noWaitingRoom,
  readRoomProduct,
  roomProductOfRows,
  roomProductStatement,
  roomRefusal,
} from "./room";
import {
  isLive,
  latestTickets,
  latestTicketsOf,
  latestTicketsStatement,
  type Ticket,
  toTicketView,
} from "./tickets";

// Joining a waiting room: one transaction per batch of joins (join-batcher.ts batches them).

/**
 * Serves a batch of joins in one transaction, retried without the requests whose clients gave
 * up (answered 503: nothing was done for them).
 */
export async function joinBatch(deps: Deps, batch: JoinRequest[]): Promise<JoinAnswer[]> {
  const answers: JoinAnswer[] = new Array(batch.length);
  let live = batch.map((request, at) => ({ request, at }));
  for (;;) {
    for (const entry of live) if (entry.request.deadline.abandoned) answers[entry.at] = gaveUp();
    live = live.filter((entry) => !entry.request.deadline.abandoned);
    if (live.length === 0) return answers;
    try {
      const served = await joinTransaction(
        deps,
        live.map((entry) => entry.request),
      );
      served.forEach((answer, i) => {
        answers[live[i]?.at as number] = answer;
      });
      return answers;
    } catch (err) {
      if (!(err instanceof Abandoned)) throw err;
    }
  }
}

async function joinTransaction(deps: Deps, batch: JoinRequest[]): Promise<JoinAnswer[]> {
  const productId = batch[0]?.productId as number;
  const guard = allOf(batch.map((request) => request.deadline));
  const buyers = [...new Set(batch.flatMap((r) => (r.buyer === null ? [] : [r.buyer])))];
  // The reads go with BEGIN, in the order the statements below would run them (docs/hot-path.md,
  // rule 6): the line's lock, the product, the batch's buyers' latest tickets.
  const openWith = [lockLineStatement(productId), roomProductStatement(productId)];
  if (buyers.length > 0) openWith.push(latestTicketsStatement(productId, buyers));
  const { answers, line, seen } = await transact(
    deps,
    guard,
    async (tx, opened) => {
      const locked = opened ? lockedLineOf(opened[0]) : await lockLine(tx, productId);
      const product = opened ? roomProductOfRows(opened[1]) : await readRoomProduct(tx, productId);
      const refusal =
        roomRefusal(product, productId) ?? (locked ? undefined : noWaitingRoom(productId));
      if (refusal || !product || !locked) {
        const refused = refusal ?? noWaitingRoom(productId);
        return { answers: batch.map((): JoinAnswer => refused) };
      }
      const { line, now } = locked;
      if (product.saleEndsAt !== null && now >= product.saleEndsAt) {
        const ended = saleEnded(product.saleEndsAt);
        return { answers: batch.map((): JoinAnswer => ended) };
      }
      const admissionSeconds = product.admissionSeconds;
      const before: (string | undefined)[] = [];
      const drawn = drawDue(line.unplaced, product, now);
      if (drawn) {
        before.push(materializeStatement(line, now, admissionSeconds ?? 0));
        await draw(tx, line, product.saleStartsAt ?? now);
      }
      // Tickets read before a draw may show it undone: read again after one.
      const latest =
        opened && !drawn
          ? latestTicketsOf(opened[2] ?? [])
          : await latestTickets(tx, productId, buyers);
      const newcomers = buyers.filter((buyer) => {
        const ticket = latest.get(buyer);
        return !ticket || !isLive(ticket, line, now, admissionSeconds);
      });
      // A buyer whose ticket expired joins again: the old ticket's admission is written first,
      // so that no two of the buyer's tickets ever look live in the database.
      if (newcomers.some((buyer) => latest.has(buyer))) {
        before.push(materializeStatement(line, now, admissionSeconds ?? 0));
      }
      const placed = product.saleStartsAt === null || product.saleStartsAt <= now;
      if (newcomers.length > 0 && placed && standsEmpty(line, now)) {
        before.push(materializeStatement(line, now, admissionSeconds ?? 0));
        // The answers are shown with the new segment: the tickets read carry what was written.
        admissionsWritten(latest.values(), line, now, admissionSeconds ?? 0);
        rebase(line, now, line.rate);
      }
      const statements = before.filter((s): s is string => s !== undefined);
      const readBack = statements.length + 1;
      if (newcomers.length > 0) {
        const first = line.positions + 1;
        integers(first, productId);
        const values = newcomers.map(
          (buyer, n) =>
            `(${productId},${hexLiteral(buyer)},${placed ? first + n : "NULL"},${timeLiteral(now)})`,
        );
        statements.push(
          `INSERT INTO queue_tickets (product_id, buyer_id, position, joined_at) VALUES ${values.join(",")}`,
          // Nobody else inserts tickets for this product while we hold its line: ours are the
          // first ones from the insert's first id on (ids have gaps on Galera, positions do not).
          `SELECT id, buyer_id, position FROM queue_tickets WHERE product_id = ${productId} AND id >= LAST_INSERT_ID() ORDER BY id LIMIT ${newcomers.length}`,
        );
        if (placed) line.positions += newcomers.length;
        else line.unplaced += newcomers.length;
        line.joined += newcomers.length;
      }
      statements.push(saveLineStatement(line));
      const results = await runStatements(tx, statements);
      if (newcomers.length > 0) {
        for (const row of results[readBack] as NewTicketRow[]) {
          const ticket: Ticket = {
            id: Number(row.id),
            productId,
            buyerId: String(row.buyer_id),
            position: row.position === null ? null : Number(row.position),
            joinedAt: now,
            admittedAt: null,
            admittedUntil: null,
          };
          latest.set(ticket.buyerId, ticket);
        }
      }
      const created = new Set(newcomers);
      const answers = batch.map((request): JoinAnswer => {
        if (request.buyer === null) return needsBuyer(productId);
        const ticket = latest.get(request.buyer);
        if (!ticket) throw new Error("a joined buyer has no ticket");
        const shown = toTicketView(ticket, line, now, admissionSeconds, product.saleStartsAt);
        // The first request of a buyer who had no live ticket made it; the rest find it.
        return { created: created.delete(request.buyer), ...shown };
      });
      return { answers, line: { line, now }, seen: { product, tickets: [...latest.values()] } };
    },
    { openWith, committed: (db, result) => ticketsStored(db, result.seen?.tickets ?? []) },
  );
  if (line && seen) {
    publishLine(deps, line.line, line.now);
    // The tickets answered and the line they were answered with, for this process's reads.
    const offsetMs = line.now - deps.clock();
    deps.ticketBoard.saw({ line: line.line, product: seen.product, offsetMs }, seen.tickets);
  }
  let joined = 0;
  for (const answer of answers) if (!(answer instanceof AppError) && answer.created) joined++;
  if (joined > 0) deps.metrics.ticketsJoined.inc(joined);
  return answers;
}

type NewTicketRow = { id: number | string; buyer_id: Buffer | string; position: number | null };

/**
 * Whether a batch whose COMMIT lost its answer committed: every ticket it answered is stored as
 * answered (a new one exists, a drawn one has the position it was answered with). A refused
 * batch wrote nothing, so its answers stand either way.
 */
async function ticketsStored(db: Tx, tickets: Ticket[]): Promise<boolean> {
  if (tickets.length === 0) return true;
  const ids = tickets.map((ticket) => ticket.id);
  integers(...ids);
  const [rows] = (await db.execute(
    sql.raw(
      `SELECT id, buyer_id, position FROM queue_tickets WHERE id IN (${ids.join(",")}) FOR UPDATE`,
    ),
  )) as unknown as [NewTicketRow[]];
  const stored = new Map(rows.map((row) => [Number(row.id), row]));
  return tickets.every((ticket) => {
    const row = stored.get(ticket.id);
    const position = row?.position == null ? null : Number(row.position);
    return (
      row !== undefined && String(row.buyer_id) === ticket.buyerId && position === ticket.position
    );
  });
}

/** After commit: this process's product reads show the line as it now stands. */
export function publishLine(deps: Pick<Deps, "productCache">, line: Line, now: number): void {
  deps.productCache.seeLine(line.productId, { serving: servingAt(line, now), joined: line.joined });
}
