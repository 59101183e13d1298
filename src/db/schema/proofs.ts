import { binary, index, mysqlTable } from "drizzle-orm/mysql-core";
import { createdAt, ref } from "./columns";

/**
 * One row per hold batch that sent its writes and its COMMIT in one round trip (see
 * hold-pipeline/commit-proof.ts), written in that transaction: when the round trip's answer is lost,
 * the row tells whether the batch committed and from which hold id. The sweeper deletes rows
 * older than an hour; the question is asked as soon as the database answers again.
 */
export const holdBatches = mysqlTable(
  "hold_batches",
  {
    token: binary("token", { length: 16 }).primaryKey(),
    firstHoldId: ref("first_hold_id"),
    createdAt: createdAt(),
  },
  (t) => [index("hold_batches_created_at_idx").on(t.createdAt)],
);

/**
 * One row per transaction that has no row of its own to tell, after a lost COMMIT, whether it
 * committed (an admin restock or edit; see `transactProven`), written in that transaction and
 * read back then. The sweeper deletes rows older than an hour.
 */
export const commitProofs = mysqlTable(
  "commit_proofs",
  {
    token: binary("token", { length: 16 }).primaryKey(),
    createdAt: createdAt(),
  },
  (t) => [index("commit_proofs_created_at_idx").on(t.createdAt)],
);
