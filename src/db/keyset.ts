import { and, gt, lte, type SQL, sql } from "drizzle-orm";
import type { MySqlColumn, MySqlTable } from "drizzle-orm/mysql-core";
import type { Tx } from "./client";

// Keyset pages (`?after_id=`) that never skip a row, for every list paged by id.
//
// An id is given at INSERT and becomes visible at COMMIT, so a reader can see id 12 while id 11
// is still being committed; a consumer that pages on from 12 then never sees 11. A page
// therefore ends at the highest id below which nothing can still appear (`completeUpTo`):
//
// - Below a settled row. A transaction writing a paged row commits within FEED_WRITE_MS of its
//   BEGIN or is rolled back (`writesFeed`, checked by the transaction runner just before
//   COMMIT). A settled row S (its `created_at`, the database clock at its INSERT, is
//   SETTLED_SECONDS old) had its id by its COMMIT, at most FEED_WRITE_MS after that INSERT. A
//   lower id was given before then (on Galera, where ids of several nodes interleave, before
//   the other node applied S: the apply lag more), so its transaction has ended by FEED_WRITE_MS
//   later. Hence twice the bound, and a second of margin for the COMMIT itself, the apply lag
//   and the clock skew between Galera nodes.
// - Up to the end of an unbroken run of ids above that. Ids present one after another have no
//   gap for a row in flight; a gap (a rolled-back insert, an INSERT IGNORE that found its key, a
//   Galera node's stride) waits until the rows above it have settled, a few seconds.
//
// Both bounds are read before the page, so whatever they vouch for is visible to it. The
// cheaper reading of the gaps alone is not exact: a rolled-back id looks like one in flight.

/** The longest a transaction writing a row of a paged list may stay open before COMMIT. */
export const FEED_WRITE_MS = 2000;
/** How old a row must be before every lower id is known settled (see above). */
export const SETTLED_SECONDS = 5;
/** How many ids above the settled row one page looks through for an unbroken run. */
const RUN_SCAN = 1000;

/** The transaction option every writer of a paged list's rows passes (see above). */
export const writesFeed = { commitWithinMs: FEED_WRITE_MS } as const;

/** A list paged by id: its table, the id and the column the database clock set at INSERT. */
export type Feed = { table: MySqlTable; id: MySqlColumn; createdAt: MySqlColumn };

export type PageInput = { limit: number; after_id: number };

/**
 * The highest id up to which every row above `afterId` that will ever exist is visible now,
 * so a page may end there without moving a consumer past a row still being committed.
 */
export async function completeUpTo(db: Tx, feed: Feed, afterId: number): Promise<number> {
  // FORCE INDEX: a scan back from the newest row stops at the first settled one, where a
  // range on created_at would sort every old row.
  const [settled] = (await db.execute(
    sql`SELECT ${feed.id} AS id FROM ${feed.table} FORCE INDEX (PRIMARY)
        WHERE ${feed.createdAt} <= NOW(3) - INTERVAL ${sql.raw(String(SETTLED_SECONDS))} SECOND
        ORDER BY ${feed.id} DESC LIMIT 1`,
  )) as unknown as [{ id: number }[]];
  let bound = Math.max(afterId, Number(settled[0]?.id ?? 0));
  const [above] = (await db.execute(
    sql`SELECT ${feed.id} AS id FROM ${feed.table} WHERE ${feed.id} > ${bound}
        ORDER BY ${feed.id} LIMIT ${sql.raw(String(RUN_SCAN))}`,
  )) as unknown as [{ id: number }[]];
  for (const row of above) {
    if (Number(row.id) !== bound + 1) break;
    bound++;
  }
  return bound;
}

/**
 * One page of `feed` after `page.after_id`: `read` selects the rows in id order within
 * `window`, at most `limit` of them. `next_after_id` is the last id of a full page, null when
 * nothing more is there yet.
 */
export async function keysetPage<R extends { id: number }>(
  db: Tx,
  feed: Feed,
  page: PageInput,
  read: (window: SQL | undefined, limit: number) => Promise<R[]>,
): Promise<{ rows: R[]; next_after_id: number | null }> {
  const bound = await completeUpTo(db, feed, page.after_id);
  const rows = await read(and(gt(feed.id, page.after_id), lte(feed.id, bound)), page.limit + 1);
  const last = rows[page.limit - 1];
  return {
    rows: rows.slice(0, page.limit),
    next_after_id: rows.length > page.limit && last ? last.id : null,
  };
}
