import { setTimeout as sleep } from "node:timers/promises";
import type { CommitGuard } from "../deadline/deadline";
import { combinesStatements, type Pool, type Tx } from "./client";
import { outcomeOf } from "./commit-outcome";
import { acquire, connectionGone, discard, rollback, runStatements, sessionOf } from "./connection";
import {
  Abandoned,
  OpenTooLong,
  PoolExhausted,
  type TransientReason,
  transientReason,
} from "./errors";
import type { DatabaseHealth } from "./health";

// The transaction runner under the services' transact, transactProven and query
// (transaction.ts): BEGIN to COMMIT on one pooled connection, retries, and a lost COMMIT's outcome.

export const MAX_ATTEMPTS = 8;

export type IsolationLevel = "read committed" | "repeatable read";

export type RunOptions<T = unknown, C = never> = {
  /** The callers' deadline: no BEGIN after it, no COMMIT once they have given up. */
  guard: CommitGuard;
  /** Defaults to the session's READ COMMITTED. */
  isolationLevel?: IsolationLevel;
  onRetry?: (reason: TransientReason) => void;
  health?: DatabaseHealth;
  /**
   * Tells from the database whether the transaction that produced `result` committed, for
   * when the connection was lost while COMMIT was under way: the client is then answered with
   * the real outcome instead of a 503 that might hide a committed change. Its reads lock
   * (`FOR UPDATE`): when only the network failed, the database may still be committing, and a
   * locking read of a row the transaction wrote or locked waits for that rather than reading
   * the change as missing.
   */
  committed?: (db: Tx, result: T) => Promise<boolean>;
  /** How long one attempt to read that outcome may take (they go on until one answers). */
  outcomeWaitMs?: number;
  /**
   * Statements sent with BEGIN in one round trip (a multi-statement query), their rows handed to
   * `work`: on the hot path each round trip waits a whole turn of a busy event loop. Only where
   * the connection `combinesStatements`; elsewhere `work` is given no rows and runs them itself.
   */
  openWith?: string[];
  /** The transaction's last writes (see Closing); its `recover` stands in for `committed`. */
  closeWith?: (result: T) => Closing<C> | undefined;
  /**
   * Rolls an attempt back (and runs it again, as after a deadlock) if COMMIT would be sent more
   * than this long after its BEGIN: writers of paged lists' rows (db/keyset.ts).
   */
  commitWithinMs?: number;
};

/**
 * A transaction's last writes, sent with COMMIT in its round trip where the connection
 * `combinesStatements` (else run just before it): the answer to that round trip is what a lost
 * connection takes away. `read` says what their results come to; after a lost answer,
 * `recover` reads the same from the database on a fresh connection, or false if nothing
 * committed. Both return what they found: neither writes into the caller's state.
 */
export type Closing<C> = {
  statements: string[];
  read: (results: unknown[]) => C;
  recover: (db: Tx) => Promise<C | false>;
};

/** A committed transaction: its work's result and, if it had a closing, what that came to. */
export type Ended<T, C> = { result: T; closed: C | undefined };

/** A transaction's work; `opened` holds the rows of each statement of `openWith`, if sent. */
export type Work<T> = (tx: Tx, opened: unknown[] | undefined) => Promise<T>;

/** COMMIT was sent and its answer lost: the outcome is unknown until the database says. */
class CommitOutcomeUnknown extends Error {
  constructor(
    override readonly cause: unknown,
    readonly result: unknown,
    /** The closing sent with that COMMIT, if any: its `recover` tells the outcome. */
    readonly closing: Closing<unknown> | undefined,
  ) {
    super("the connection was lost while COMMIT was under way");
    this.name = "CommitOutcomeUnknown";
  }
}

/**
 * The transaction boundary, owned here rather than by drizzle's `transaction()`, which sends
 * BEGIN outside its try/finally and so leaked the pooled connection whenever BEGIN failed.
 * Every path ends in exactly one of release (state known clean) or discard (state unknown).
 */
async function runOnce<T, C>(
  pool: Pool,
  work: Work<T>,
  options: RunOptions<T, C>,
): Promise<Ended<T, C>> {
  const { guard } = options;
  const conn = await acquire(pool, guard, options.health);
  const stopWatching = guard.onAbandon(() => discard(conn));
  let begun = false;
  let result: T;
  let closing: Closing<C> | undefined;
  let closed: C | undefined;
  const combines = combinesStatements(conn.connection);
  const openWith = combines ? options.openWith : undefined;
  const openedAt = performance.now();
  try {
    if (options.isolationLevel) {
      await conn.query(`SET TRANSACTION ISOLATION LEVEL ${options.isolationLevel.toUpperCase()}`);
    }
    const [opening] = await conn.query(openWith ? ["BEGIN", ...openWith].join(";\n") : "BEGIN");
    begun = true;
    result = await work(sessionOf(conn), openWith ? (opening as unknown[]).slice(1) : undefined);
    closing = options.closeWith?.(result);
    if (closing && !combines) {
      closed = closing.read(await runStatements(sessionOf(conn), closing.statements));
      closing = undefined;
    }
  } catch (err) {
    stopWatching();
    if (guard.abandoned) {
      discard(conn);
      throw new Abandoned();
    }
    // A statement sent with BEGIN may fail on its own (a lock wait timeout): the server
    // answered, so the session is known and a ROLLBACK (harmless if BEGIN did not run) cleans it.
    if ((!begun && !openWith) || connectionGone(conn)) discard(conn);
    else await rollback(conn);
    throw err;
  }
  stopWatching();
  if (
    options.commitWithinMs !== undefined &&
    performance.now() - openedAt > options.commitWithinMs
  ) {
    await rollback(conn);
    throw new OpenTooLong();
  }
  if (!guard.beginCommit()) {
    await rollback(conn);
    throw new Abandoned();
  }
  // From here on the connection is released or discarded exactly once, by this code alone:
  // a second release would hand a connection that another request already holds to a third.
  try {
    if (closing) {
      const [results] = await conn.query([...closing.statements, "COMMIT"].join(";\n"));
      closed = closing.read((results as unknown as unknown[]).slice(0, -1));
    } else {
      await conn.query("COMMIT");
    }
  } catch (err) {
    // A server's refusal (a Galera certification failure, or a last write's deadlock: the
    // statements after a failed one do not run) leaves nothing committed; a lost connection
    // leaves it unknown.
    if (transientReason(err) === "connection_lost" || transientReason(err) === "unreachable") {
      discard(conn);
      throw new CommitOutcomeUnknown(err, result, closing);
    }
    guard.commitFailed();
    await rollback(conn);
    throw err;
  }
  conn.release();
  return { result, closed };
}

/**
 * Runs `work` in one transaction. Transient failures (deadlocks, lock wait timeouts, a
 * cancelled statement, a lost connection, a node not ready) are retried a bounded number of
 * times while the callers still wait; InnoDB resolves a deadlock by rolling one transaction
 * back, and running it again is the documented remedy. Nothing commits once the callers have
 * given up, so a 503 always means nothing changed.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: Work<T>,
  options: RunOptions<T>,
): Promise<T> {
  return (await runTransaction(pool, work, options)).result;
}

/** withTransaction, with what the transaction's closing (`closeWith`) came to. */
export async function runTransaction<T, C>(
  pool: Pool,
  work: Work<T>,
  options: RunOptions<T, C>,
): Promise<Ended<T, C>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const ended = await runOnce(pool, work, options);
      options.health?.answered();
      return ended;
    } catch (err) {
      if (err instanceof CommitOutcomeUnknown) {
        options.health?.failed("connection_lost");
        const result = err.result as T;
        const closing = err.closing as Closing<C> | undefined;
        const { committed } = options;
        // Without a closing, `committed` tells the outcome, and a commit brings nothing more.
        const check =
          closing?.recover ??
          (committed && (async (db: Tx) => ((await committed(db, result)) ? undefined : false)));
        const outcome = check ? await outcomeOf(pool, check, options) : null;
        if (outcome !== false && outcome !== null) return { result, closed: outcome };
        // Rolled back for sure: as safe to run again as any failure before COMMIT.
        if (outcome === false && attempt < MAX_ATTEMPTS && options.guard.remainingMs() > 0) {
          options.guard.commitFailed();
          continue;
        }
        throw err.cause;
      }
      const reason = transientReason(err);
      if (!reason) {
        if (!(err instanceof Abandoned || err instanceof PoolExhausted)) options.health?.answered();
        throw err;
      }
      options.health?.failed(reason);
      // Jittered and growing: writers on several Galera nodes updating one hot product row
      // keep failing certification against each other if they retry in step.
      const pause = Math.random() * Math.min(100, 5 * 2 ** attempt);
      if (attempt >= MAX_ATTEMPTS || options.guard.remainingMs() <= pause) throw err;
      options.onRetry?.(reason);
      await sleep(pause);
    }
  }
}
