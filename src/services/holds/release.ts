import { eq } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { holds } from "../../db/schema";
import { transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { notFound } from "../../errors";
import type { BuyerId } from "../buyers";
import { publishProducts } from "../products/cache";
import { changeStock, lockProduct } from "../products/stock";
import { type HoldView, toHoldView } from "../views";
import { expireHold } from "./expire";
import { holdAlreadyUsed, lockHold } from "./locking";

/** Releases an active hold now; releasing a released or expired hold changes nothing. */
export async function releaseHold(
  deps: Deps,
  id: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<HoldView> {
  const { view, snapshot } = await transact(
    deps,
    deadline,
    async (tx) => {
      const hold = await lockHold(tx, id, buyer);
      if (!hold) throw notFound.hold(id);
      if (hold.status === "converted") throw await holdAlreadyUsed(tx, id);
      if (hold.status !== "active")
        return { view: toHoldView(hold, hold.now), snapshot: undefined };
      if (hold.expiresAt <= hold.now) {
        const snapshot = await expireHold(tx, hold);
        return { view: toHoldView({ ...hold, status: "expired" }, hold.now), snapshot };
      }
      const product = await lockProduct(tx, hold.productId);
      if (!product) throw notFound.product(hold.productId);
      await tx.update(holds).set({ status: "released" }).where(eq(holds.id, id));
      const snapshot = await changeStock(tx, product, { reserved: -hold.qty });
      return { view: toHoldView({ ...hold, status: "released" }, hold.now), snapshot };
    },
    { committed: (db, result) => statusIs(db, id, result.view.status) },
  );
  if (snapshot) publishProducts(deps, [snapshot]);
  return view;
}

/** Whether a hold has the status a transaction answered with, i.e. that it committed. */
async function statusIs(db: Tx, id: number, status: HoldView["status"]): Promise<boolean> {
  const [row] = await db
    .select({ status: holds.status })
    .from(holds)
    .where(eq(holds.id, id))
    .limit(1)
    .for("update");
  // A hold read as expired by the clock may still be active in its row; both answers are true.
  return status === "expired" || row?.status === status;
}
