import type { Line } from "../../lib/waiting-room";

import { parseDbTime } from "../views";

export type { Line };

// A waiting room's line as stored (one row of waiting_rooms) and admission as a pure function of
// it and the database's clock: no process's clock admits anyone, and no job has to run for a
// position to be admitted. Every change of rate (a PATCH, a pause, a removal) and every join
// into an empty line rebases the line (serving_base = serving now, serving_since = now), so
// that between two rebases admission is a straight line at `rate`.

/** The highest position admitted at `now` (ms): never more than the positions that exist. */
export function servingAt(line: Line, now: number): number {
  const elapsed = now - line.servingSince;
  if (elapsed <= 0 || line.rate === 0) return Math.min(line.positions, line.servingBase);
  return Math.min(line.positions, line.servingBase + Math.floor((elapsed * line.rate) / 1000));
}

/**
 * When `position` (above servingBase) is admitted: the first millisecond at which
 * servingAt reaches it. Infinity while the line is paused.
 */
export function admittedAtOf(line: Line, position: number): number {
  if (line.rate === 0) return Number.POSITIVE_INFINITY;
  return line.servingSince + Math.ceil(((position - line.servingBase) * 1000) / line.rate);
}

/** A waiting_rooms row as raw SQL returns it. */
export type LineRow = {
  product_id: number | string;
  positions: number;
  joined: number;
  unplaced: number;
  serving_base: number;
  serving_since: Date | string;
  rate: number;
  materialized: number;
};

export function lineOf(row: LineRow): Line {
  return {
    productId: Number(row.product_id),
    positions: Number(row.positions),
    joined: Number(row.joined),
    unplaced: Number(row.unplaced),
    servingBase: Number(row.serving_base),
    servingSince: parseDbTime(row.serving_since).getTime(),
    rate: Number(row.rate),
    materialized: Number(row.materialized),
  };
}

/** The line's columns, for a raw SELECT (prefixed with the table's alias). */
export const lineColumns = (alias: string) =>
  [
    "product_id",
    "positions",
    "joined",
    "unplaced",
    "serving_base",
    "serving_since",
    "rate",
    "materialized",
  ]
    .map((column) => `${alias}.${column}`)
    .join(", ");

/** A timestamp (ms) as a DATETIME(3) literal, as the line's times are written. */
export const timeLiteral = (ms: number) =>
  `'${new Date(ms).toISOString().slice(0, 23).replace("T", " ")}'`;

/** Bytes (a buyer id) as a hex literal: no quoting to get wrong. */
export const hexLiteral = (bytes: string) => `X'${Buffer.from(bytes).toString("hex")}'`;

/** Integers only reach SQL text after this check. */
export function integers(...values: number[]): void {
  if (!values.every(Number.isSafeInteger)) throw new Error("line values are integers");
}
