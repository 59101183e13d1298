import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import type { LineFigures } from "../../lib/product-view";
import { parseDbTime } from "../views";
import { integers, type LineRow, lineColumns, lineOf, servingAt } from "./line";

/** Where a product's line stands by the database's clock: what its `waiting_room` shows. */
export async function readLineFigures(db: Tx, productId: number): Promise<LineFigures | undefined> {
  integers(productId);
  const [rows] = (await db.execute(
    sql.raw(
      `SELECT ${lineColumns("w")}, NOW(3) AS now FROM waiting_rooms w WHERE w.product_id = ${productId}`,
    ),
  )) as unknown as [(LineRow & { now: Date | string })[]];
  const row = rows[0];
  if (!row) return undefined;
  const line = lineOf(row);
  const now = parseDbTime(row.now).getTime();
  return { serving: servingAt(line, now), joined: line.joined };
}
