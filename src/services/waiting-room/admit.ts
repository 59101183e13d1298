import { sql } from "drizzle-orm";
import { query, transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { parseDbTime } from "../views";
import { publishLine } from "./join";
import { type LineRow, lineColumns, lineOf, servingAt, timeLiteral } from "./line";
import { draw, lockLine, materializeStatement, saveLineStatement, writeLine } from "./locked";
import { drawDue, readRoomProduct } from "./room";

// The admission job's work: no one is admitted by it (admission is a function of the line and
// the clock), but it writes each admission on its ticket within a second or so, runs the draw
// at the opening when no request did, and counts for the metrics.

/** One tick over every product with a waiting room. */
export async function admitDue(deps: Deps, deadline: CommitGuard): Promise<void> {
  const [rows] = (await query(deps, deadline, (db) =>
    db.execute(
      sql.raw(
        // `ended`: whether an admission has ended since the last count (the index on
        // product_id, admitted_until answers it from one range).
        `SELECT ${lineColumns("w")}, NOW(3) AS now, EXISTS (SELECT 1 FROM queue_tickets t WHERE t.product_id = w.product_id AND t.admitted_until > COALESCE(w.ended_through, '1970-01-01') AND t.admitted_until <= NOW(3)) AS ended FROM waiting_rooms w JOIN products p ON p.id = w.product_id WHERE p.admit_per_second IS NOT NULL`,
      ),
    ),
  )) as unknown as [(LineRow & { now: Date | string; ended: number | string })[]];
  for (const row of rows) {
    const line = lineOf(row);
    const now = parseDbTime(row.now).getTime();
    deps.metrics.waitingRoomLine.set(
      { product_id: String(line.productId) },
      line.positions - servingAt(line, now) + line.unplaced,
    );
    if (line.materialized < servingAt(line, now) || line.unplaced > 0 || Number(row.ended) > 0) {
      await admitLine(deps, line.productId, deadline);
    }
  }
}

async function admitLine(deps: Deps, productId: number, deadline: CommitGuard): Promise<void> {
  const done = await transact(deps, deadline, async (tx) => {
    // Another process's job, or a join storm, has the line: this one comes back next tick.
    const locked = await lockLine(tx, productId, true);
    const product = await readRoomProduct(tx, productId);
    if (!locked || !product || product.admissionSeconds === null) return undefined;
    const { line, now } = locked;
    const from = line.materialized;
    const written = [materializeStatement(line, now, product.admissionSeconds)];
    if (drawDue(line.unplaced, product, now)) {
      await draw(tx, line, product.saleStartsAt ?? now);
      written.push(materializeStatement(line, now, product.admissionSeconds));
    }
    await writeLine(tx, written);
    // Admissions that ended since the last count without a hold in them.
    const [ended] = (await tx.execute(
      sql.raw(
        `SELECT COUNT(*) AS n FROM queue_tickets t JOIN waiting_rooms w ON w.product_id = t.product_id WHERE t.product_id = ${productId} AND t.admitted_until > COALESCE(w.ended_through, '1970-01-01') AND t.admitted_until <= ${timeLiteral(now)} AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.product_id = t.product_id AND h.buyer_id = t.buyer_id AND h.created_at >= t.admitted_at AND h.created_at < t.admitted_until)`,
      ),
    )) as unknown as [{ n: number | string }[]];
    await writeLine(tx, [
      saveLineStatement(line),
      `UPDATE waiting_rooms SET ended_through = ${timeLiteral(now)} WHERE product_id = ${productId}`,
    ]);
    return { line, now, admitted: line.materialized - from, unused: Number(ended[0]?.n ?? 0) };
  });
  if (!done) return;
  publishLine(deps, done.line, done.now);
  if (done.admitted > 0) deps.metrics.ticketsAdmitted.inc(done.admitted);
  if (done.unused > 0) deps.metrics.ticketsExpiredUnused.inc(done.unused);
}
