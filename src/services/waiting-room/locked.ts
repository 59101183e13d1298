import { randomInt } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { runStatements } from "../../db/connection";
import type { Ticket } from "../../lib/waiting-room";
import { parseDbTime } from "../views";
import {
  admittedAtOf,
  integers,
  type Line,
  type LineRow,
  lineColumns,
  lineOf,
  servingAt,
  timeLiteral,
} from "./line";

// The line's row under its lock: read, rebased, drawn, written back. Everything that changes a
// line (a join, the draw, a change of settings, the admission job) runs these inside one
// transaction holding the row's lock, which is what makes positions 1..N with no gap. The SQL is
// written out because the join storm runs it per batch; every value in it is an integer checked
// here or a timestamp formatted here.

/** The locking read of the line's row, with the database's clock. */
export function lockLineStatement(productId: number, skipLocked = false): string {
  integers(productId);
  return `SELECT ${lineColumns("w")}, NOW(3) AS now FROM waiting_rooms w WHERE w.product_id = ${productId} FOR UPDATE${skipLocked ? " SKIP LOCKED" : ""}`;
}

/** The line of `lockLineStatement`'s rows; undefined when the product never had one. */
export function lockedLineOf(rows: unknown): { line: Line; now: number } | undefined {
  const row = (rows as (LineRow & { now: Date | string })[])[0];
  if (!row) return undefined;
  return { line: lineOf(row), now: parseDbTime(row.now).getTime() };
}

/** The line's row, locked, with the database's clock; undefined when the product never had one. */
export async function lockLine(
  tx: Tx,
  productId: number,
  skipLocked = false,
): Promise<{ line: Line; now: number } | undefined> {
  const [rows] = (await tx.execute(
    sql.raw(lockLineStatement(productId, skipLocked)),
  )) as unknown as [unknown];
  return lockedLineOf(rows);
}

/**
 * Writes admitted_at and admitted_until on every position admitted by `now` that lacks them
 * (positions above `materialized`), from the line's current segment: done before anything
 * changes the segment, which is what makes the formula of each segment recoverable later.
 * `admissionSeconds` is the setting as it stands (every change of it comes here first).
 */
export function materializeStatement(
  line: Line,
  now: number,
  admissionSeconds: number,
): string | undefined {
  const serving = servingAt(line, now);
  if (serving <= line.materialized || line.rate === 0) return undefined;
  integers(
    line.productId,
    line.servingBase,
    line.rate,
    line.materialized,
    serving,
    admissionSeconds,
  );
  const since = timeLiteral(line.servingSince);
  // ceil((position - base) * 1000 / rate) ms after serving_since: admittedAtOf, in SQL.
  const offsetMs = `((CAST(position AS SIGNED) - ${line.servingBase}) * 1000 + ${line.rate - 1}) DIV ${line.rate}`;
  const statement = `UPDATE queue_tickets SET admitted_at = DATE_ADD(${since}, INTERVAL ${offsetMs} * 1000 MICROSECOND), admitted_until = DATE_ADD(${since}, INTERVAL (${offsetMs} + ${admissionSeconds * 1000}) * 1000 MICROSECOND) WHERE product_id = ${line.productId} AND position > ${line.materialized} AND position <= ${serving} AND admitted_at IS NULL`;
  line.materialized = serving;
  return statement;
}

/**
 * Puts on `tickets` (copies read before `materializeStatement` ran) the admissions it writes,
 * before a rebase starts a segment that no longer holds them.
 */
export function admissionsWritten(
  tickets: Iterable<Ticket>,
  line: Line,
  now: number,
  admissionSeconds: number,
): void {
  for (const ticket of tickets) {
    if (ticket.admittedAt !== null || ticket.position === null) continue;
    const admission = admissionOf(line, ticket.position, now, admissionSeconds);
    if (!admission) continue;
    ticket.admittedAt = admission.at;
    ticket.admittedUntil = admission.until;
  }
}

/** Starts a new segment at `at`: from there, `rate` positions a second (materialize first). */
export function rebase(line: Line, at: number, rate: number): void {
  line.servingBase = servingAt(line, at);
  line.servingSince = at;
  line.rate = rate;
}

/**
 * Whether the line has nobody waiting at `now` with the room started: a join then starts a new
 * segment at its own moment, so that credit saved up while the line stood empty never admits a
 * crowd at once (at most one second's worth, as the contract bounds it).
 */
export function standsEmpty(line: Line, now: number): boolean {
  return now >= line.servingSince && servingAt(line, now) >= line.positions && line.unplaced === 0;
}

/**
 * The draw at the opening: every ticket that joined before it is given the next positions in a
 * uniformly random order (Fisher-Yates over crypto.randomInt), so arriving early or on a faster
 * connection gives no advantage. The caller checked that the opening has passed.
 */
export async function draw(tx: Tx, line: Line, openedAt: number): Promise<void> {
  if (line.unplaced === 0) return;
  const [rows] = (await tx.execute(
    sql.raw(
      `SELECT id FROM queue_tickets WHERE product_id = ${line.productId} AND position IS NULL`,
    ),
  )) as unknown as [{ id: number | string }[]];
  const ids = rows.map((row) => Number(row.id));
  for (let i = ids.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
  }
  // Nobody waited before the draw: admission restarts at the opening, not from credit saved
  // while the line stood empty.
  if (servingAt(line, openedAt) >= line.positions && line.servingSince < openedAt) {
    line.servingBase = line.positions;
    line.servingSince = openedAt;
  }
  const placed = ids.map((id, n) => [id, line.positions + n + 1]);
  integers(...placed.flat());
  // JSON_TABLE (MySQL 8, MariaDB 10.6) carries the whole draw in one UPDATE.
  await tx.execute(
    sql.raw(
      `UPDATE queue_tickets t JOIN JSON_TABLE('${JSON.stringify(placed)}', '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', pos INT UNSIGNED PATH '$[1]')) d ON t.id = d.id SET t.position = d.pos WHERE t.product_id = ${line.productId}`,
    ),
  );
  line.positions += ids.length;
  line.unplaced = 0;
}

export function saveLineStatement(line: Line): string {
  integers(
    line.productId,
    line.positions,
    line.joined,
    line.unplaced,
    line.servingBase,
    line.rate,
    line.materialized,
  );
  return `UPDATE waiting_rooms SET positions = ${line.positions}, joined = ${line.joined}, unplaced = ${line.unplaced}, serving_base = ${line.servingBase}, serving_since = ${timeLiteral(line.servingSince)}, rate = ${line.rate}, materialized = ${line.materialized} WHERE product_id = ${line.productId}`;
}

export function insertLineStatement(line: Line): string {
  integers(line.productId, line.rate);
  return `INSERT INTO waiting_rooms (product_id, serving_since, rate) VALUES (${line.productId}, ${timeLiteral(line.servingSince)}, ${line.rate})`;
}

/** Runs what a change of the line needs written, in one round trip where the connection allows. */
export async function writeLine(tx: Tx, statements: (string | undefined)[]): Promise<unknown[]> {
  return runStatements(
    tx,
    statements.filter((statement): statement is string => statement !== undefined),
  );
}

/** When the ticket at `position` is admitted and until when, if it is by `now`. */
export function admissionOf(
  line: Line,
  position: number,
  now: number,
  admissionSeconds: number,
): { at: number; until: number } | undefined {
  if (position > servingAt(line, now)) return undefined;
  const at = admittedAtOf(line, position);
  return { at, until: at + admissionSeconds * 1000 };
}
