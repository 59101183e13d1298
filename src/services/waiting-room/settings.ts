import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import type { LineFigures } from "../../lib/product-view";
import { parseDbTime } from "../views";
import { integers, type Line, servingAt, timeLiteral } from "./line";
import {
  draw,
  insertLineStatement,
  lockLine,
  materializeStatement,
  rebase,
  saveLineStatement,
  writeLine,
} from "./locked";

// The operator's side: a waiting room switched on, changed, removed or restored, inside the
// transaction that changes the product (which holds the product's lock, then takes the line's:
// the order every transaction takes them in).

/** The settings as the API takes them; `admission_seconds` defaults to 300. */
export type WaitingRoomInput = { admit_per_second: number; admission_seconds?: number };

export type WaitingRoomSettings = { admitPerSecond: number; admissionSeconds: number };

export const DEFAULT_ADMISSION_SECONDS = 300;

export function settingsOf(input: WaitingRoomInput | null): WaitingRoomSettings | null {
  return input === null
    ? null
    : {
        admitPerSecond: input.admit_per_second,
        admissionSeconds: input.admission_seconds ?? DEFAULT_ADMISSION_SECONDS,
      };
}

type Change = {
  productId: number;
  before: WaitingRoomSettings | null;
  after: WaitingRoomSettings | null;
  /** The sale's opening after the change (ms), null when open. */
  saleStartsAt: number | null;
};

/**
 * Brings the product's line in step with its new settings and sale opening; where it stands
 * afterwards, or undefined when the product has no waiting room. Admission starts at the
 * opening, or when the room is switched on if the opening has passed; a change of rate
 * applies from now (what was admitted so far is written first, under the old rate), a
 * removal freezes `serving` and a restoration starts again from there, tickets and positions kept.
 */
export async function changeWaitingRoom(tx: Tx, change: Change): Promise<LineFigures | undefined> {
  const { productId, before, after, saleStartsAt } = change;
  if (before === null && after === null) return undefined;
  const locked = await lockLine(tx, productId);
  const now = locked?.now ?? (await databaseNow(tx));
  const start = Math.max(now, saleStartsAt ?? now);
  if (!locked) {
    if (after === null) return undefined;
    const line: Line = {
      productId,
      positions: 0,
      joined: 0,
      unplaced: 0,
      servingBase: 0,
      servingSince: start,
      rate: after.admitPerSecond,
      materialized: 0,
    };
    await writeLine(tx, [insertLineStatement(line), switchedOnStatement(productId, now)]);
    return { serving: 0, joined: 0 };
  }
  const { line } = locked;
  const statements = [materializeStatement(line, now, before?.admissionSeconds ?? 0)];
  if (after === null) rebase(line, now, 0);
  else if (before === null) {
    line.servingBase = servingAt(line, now);
    line.servingSince = start;
    line.rate = after.admitPerSecond;
  } else if (line.servingSince > now) {
    // Not started yet: it starts at the (maybe moved) opening.
    line.servingSince = start;
    line.rate = after.admitPerSecond;
  } else if (line.rate !== after.admitPerSecond) rebase(line, now, after.admitPerSecond);
  if (after !== null && line.unplaced > 0 && (saleStartsAt === null || saleStartsAt <= now)) {
    await draw(tx, line, saleStartsAt ?? now);
  }
  statements.push(saveLineStatement(line));
  if (before === null) statements.push(switchedOnStatement(productId, now));
  await writeLine(tx, statements);
  return after === null ? undefined : { serving: servingAt(line, now), joined: line.joined };
}

function switchedOnStatement(productId: number, now: number): string {
  integers(productId);
  return `UPDATE waiting_rooms SET on_since = ${timeLiteral(now)} WHERE product_id = ${productId}`;
}

async function databaseNow(tx: Tx): Promise<number> {
  const [rows] = (await tx.execute(sql`SELECT NOW(3) AS now`)) as unknown as [
    { now: Date | string }[],
  ];
  const row = rows[0];
  if (!row) throw new Error("the database gave no time");
  return parseDbTime(row.now).getTime();
}
