import { and, asc, eq, gte, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { holdBatches, holds } from "../../db/schema";
import { ownedBy } from "../holds/locking";
import { lockProduct } from "../products/stock";
import type { HoldView } from "../views";

// Commit proof: after a lost answer to COMMIT, whether a batch committed, read from the rows it
// would have written.

/**
 * The ids of a batch's holds whose COMMIT, sent with its writes, lost its answer, read on a
 * connection of its own in autocommit mode; false if the batch did not commit. Its writes
 * include a row under its `token` naming its first hold id: present, the batch committed, and
 * its `count` holds are the product's first ones from that id on.
 */
export async function provenHoldIds(
  db: Tx,
  productId: number,
  token: Buffer,
  count: number,
): Promise<number[] | false> {
  // The row is written by the batch's last statements, so a database still running them has
  // nothing yet for a locking read to wait on; the product's row lock, held by the batch from
  // its first statement to its end, is. Once it is free the batch has committed or not.
  await lockProduct(db, productId);
  const [row] = await db
    .select({ firstHoldId: holdBatches.firstHoldId })
    .from(holdBatches)
    .where(sql`${holdBatches.token} = ${token}`)
    .limit(1);
  if (!row) return false;
  // Read back whatever the id layout: batches after ours locked the product after our commit,
  // so their holds come later, and ours are the first ones from the row's id on.
  const ours = await db
    .select({ id: holds.id })
    .from(holds)
    .where(and(eq(holds.productId, productId), gte(holds.id, Number(row.firstHoldId))))
    .orderBy(asc(holds.id))
    .limit(count);
  return ours.map((hold) => hold.id);
}

/**
 * Whether this very hold exists: a granted hold's row is its transaction's proof of commit.
 * The id alone is not enough: after a database crash rolled the hold back, the same id can be
 * given to a new hold, so the product, quantity, buyer and expiry (to the millisecond) must
 * match too.
 */
export async function holdExists(db: Tx, hold: HoldView): Promise<boolean> {
  const [row] = await db
    .select({ id: holds.id })
    .from(holds)
    .where(
      and(
        eq(holds.id, hold.hold_id),
        eq(holds.productId, hold.product_id),
        eq(holds.qty, hold.qty),
        ownedBy(holds.buyerId, hold.buyer_id),
        eq(holds.expiresAt, new Date(hold.expires_at)),
      ),
    )
    .limit(1)
    .for("update");
  return row !== undefined;
}
