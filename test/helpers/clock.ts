import type mysql from "mysql2/promise";
import { rows } from "./harness";

/** A timestamp as the contract writes it: UTC, to the millisecond. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `ms` since the epoch as the contract writes a timestamp. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** The database's clock now, in ms since the epoch: the clock that decides sale windows. */
export async function databaseNow(pool: mysql.Pool): Promise<number> {
  const [row] = await rows<{ now: Date }>(pool, "SELECT NOW(3) AS now");
  if (!row) throw new Error("NOW(3) read nothing");
  return row.now.getTime();
}
