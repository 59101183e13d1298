import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/mysql2";
import type mysql from "mysql2/promise";
import { type CommitGuard, Deadline } from "../deadline/deadline";
import { combinesStatements, connectionReady, type Pool, type Tx } from "./client";
import { Abandoned, PoolExhausted, type TransientReason, transientReason } from "./errors";
import type { DatabaseHealth } from "./health";
import * as schema from "./schema";

export const MAX_ATTEMPTS = 8;
/** How often a lost COMMIT's outcome is asked for while the database is away. */
const OUTCOME_RETRY_MS = 200;
/** How long one of those questions may take when the caller does not say. */
const OUTCOME_ATTEMPT_MS = 1000;

type Connection = mysql.PoolConnection;

export type IsolationLevel = "read committed" | "repeatable read";

export type RunOptions<T = unknown> = {
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
   * A statement sent with BEGIN in one round trip (a multi-statement query), its rows handed to
   * `work`: on the hot path each round trip waits a whole turn of a busy event loop. Only where
   * the connection `combinesStatements`; elsewhere `work` is given no rows and runs it itself.
   */
  openWith?: string;
  /**
   * The transaction's last writes, sent with COMMIT in its round trip where the connection
   * `combinesStatements`, else run just before it. Only for work whose `committed` can tell the
   * outcome without their results, as the answer to that round trip is what a lost connection
   * takes away.
   */
  closeWith?: (result: T) => Closing | undefined;
};

/** Statements that end a transaction, and what to do with their results. */
export type Closing = { statements: string[]; apply: (results: unknown[]) => void };

/** A transaction's work; `opened` holds the rows of `openWith`, if it was sent. */
export type Work<T> = (tx: Tx, opened: unknown) => Promise<T>;

/** COMMIT was sent and its answer lost: the outcome is unknown until the database says. */
class CommitOutcomeUnknown extends Error {
  constructor(
    override readonly cause: unknown,
    readonly result: unknown,
  ) {
    super("the connection was lost while COMMIT was under way");
    this.name = "CommitOutcomeUnknown";
  }
}

const sessions = new WeakMap<object, Tx>();
const combiningSessions = new WeakSet<Tx>();

/** One drizzle session per pooled connection, made the first time it is used. */
function sessionOf(conn: Connection): Tx {
  let session = sessions.get(conn.connection);
  if (!session) {
    session = drizzle({ client: conn, schema, mode: "default" });
    sessions.set(conn.connection, session);
    if (combinesStatements(conn.connection)) combiningSessions.add(session);
  }
  return session;
}

/** Whether `tx` may send several statements in one round trip (see `combinesStatements`). */
export function combines(tx: Tx): boolean {
  return combiningSessions.has(tx);
}

/**
 * A pooled connection, or PoolExhausted once the callers' time is up: mysql2's pool has no
 * acquire timeout, and without one a request waits on an exhausted pool forever. A connection
 * attempt that fails after its caller left still tells the health tracker.
 */
function acquire(pool: Pool, guard: CommitGuard, health?: DatabaseHealth): Promise<Connection> {
  const remaining = guard.remainingMs();
  if (guard.abandoned) return Promise.reject(new Abandoned());
  if (remaining <= 0) return Promise.reject(new PoolExhausted());
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new PoolExhausted());
    }, remaining);
    pool
      .getConnection()
      .then(async (conn) => {
        await connectionReady(conn.connection);
        return conn;
      })
      .then(
        (conn) => {
          if (settled) return conn.release();
          settled = true;
          clearTimeout(timer);
          resolve(conn);
        },
        (err: unknown) => {
          const reason = transientReason(err);
          if (reason) health?.failed(reason);
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(err);
        },
      );
  });
}

/**
 * Closes a connection whose state is unknown (a statement still running for a caller that
 * left, a failed BEGIN or ROLLBACK) and takes it out of the pool. Destroying the socket with
 * an error is what makes mysql2 reject the statement in flight at once; the server rolls the
 * transaction back when it notices, since COMMIT was never sent.
 */
function discard(conn: Connection): void {
  const stream = (conn.connection as unknown as { stream?: { destroy: (err: Error) => void } })
    .stream;
  stream?.destroy(new Error("connection discarded"));
  conn.destroy();
}

async function rollback(conn: Connection): Promise<void> {
  try {
    await conn.query("ROLLBACK");
    conn.release();
  } catch {
    discard(conn);
  }
}

/**
 * The transaction boundary, owned here rather than by drizzle's `transaction()`, which sends
 * BEGIN outside its try/finally and so leaked the pooled connection whenever BEGIN failed.
 * Every path ends in exactly one of release (state known clean) or discard (state unknown).
 */
async function runOnce<T>(pool: Pool, work: Work<T>, options: RunOptions<T>): Promise<T> {
  const { guard } = options;
  const conn = await acquire(pool, guard, options.health);
  const stopWatching = guard.onAbandon(() => discard(conn));
  let begun = false;
  let result: T;
  let closing: Closing | undefined;
  const openWith = combinesStatements(conn.connection) ? options.openWith : undefined;
  try {
    if (options.isolationLevel) {
      await conn.query(`SET TRANSACTION ISOLATION LEVEL ${options.isolationLevel.toUpperCase()}`);
    }
    const [opening] = await conn.query(openWith ? `BEGIN; ${openWith}` : "BEGIN");
    begun = true;
    result = await work(sessionOf(conn), openWith ? (opening as unknown[])[1] : undefined);
    closing = options.closeWith?.(result);
    if (closing && !combinesStatements(conn.connection)) {
      closing.apply(await runStatements(sessionOf(conn), closing.statements));
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
  if (!guard.beginCommit()) {
    await rollback(conn);
    throw new Abandoned();
  }
  // From here on the connection is released or discarded exactly once, by this code alone:
  // a second release would hand a connection that another request already holds to a third.
  let closed: unknown[] | undefined;
  try {
    if (closing) {
      const [results] = await conn.query([...closing.statements, "COMMIT"].join(";\n"));
      closed = (results as unknown as unknown[]).slice(0, -1);
    } else {
      await conn.query("COMMIT");
    }
  } catch (err) {
    // A server's refusal (a Galera certification failure, or a last write's deadlock: the
    // statements after a failed one do not run) leaves nothing committed; a lost connection
    // leaves it unknown.
    if (transientReason(err) === "connection_lost" || transientReason(err) === "unreachable") {
      discard(conn);
      throw new CommitOutcomeUnknown(err, result);
    }
    guard.commitFailed();
    await rollback(conn);
    throw err;
  }
  conn.release();
  if (closing && closed) closing.apply(closed);
  return result;
}

/**
 * Runs statements in order on `tx`, in one round trip where the connection
 * `combinesStatements`; their results, one per statement.
 */
export async function runStatements(tx: Tx, statements: string[]): Promise<unknown[]> {
  if (statements.length > 1 && combiningSessions.has(tx)) {
    const [results] = await tx.execute(sql.raw(statements.join(";\n")));
    return results as unknown as unknown[];
  }
  const results: unknown[] = [];
  for (const statement of statements) results.push((await tx.execute(sql.raw(statement)))[0]);
  return results;
}

function connectionGone(conn: Connection): boolean {
  const core = conn.connection as unknown as { _fatalError?: unknown; _closing?: boolean };
  return Boolean(core._fatalError || core._closing);
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
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await runOnce(pool, work, options);
      options.health?.answered();
      return result;
    } catch (err) {
      if (err instanceof CommitOutcomeUnknown) {
        options.health?.failed("connection_lost");
        const committed = await outcomeOf(pool, err.result as T, options);
        if (committed === true) return err.result as T;
        // Rolled back for sure: as safe to run again as any failure before COMMIT.
        if (committed === false && attempt < MAX_ATTEMPTS && options.guard.remainingMs() > 0) {
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

/**
 * Asks the database, on fresh connections, whether a transaction whose COMMIT lost its answer
 * took effect, and keeps asking for as long as the database cannot be reached: a 503 then might
 * hide a committed change, so the callers wait for the real outcome, past their deadline, as
 * for any commit under way. Each attempt is cut off after `outcomeWaitMs`, as a hung database
 * would otherwise keep it forever. Undefined when the check itself fails for another reason.
 */
async function outcomeOf<T>(
  pool: Pool,
  result: T,
  options: RunOptions<T>,
): Promise<boolean | undefined> {
  const { committed } = options;
  if (!committed) return undefined;
  for (;;) {
    const attempt = Deadline.start(options.outcomeWaitMs ?? OUTCOME_ATTEMPT_MS);
    try {
      return await withConnection(pool, (db) => committed(db, result), {
        guard: attempt,
        health: options.health,
      });
    } catch (err) {
      if (!(transientReason(err) || err instanceof Abandoned || err instanceof PoolExhausted)) {
        return undefined;
      }
      await sleep(Math.min(OUTCOME_RETRY_MS, Math.max(0, attempt.remainingMs())));
    } finally {
      attempt.clear();
    }
  }
}

/**
 * Runs reads on one pooled connection, cut off (and the connection closed) when the callers
 * give up, so that a hung database cannot keep pooled connections past the deadline.
 */
export async function withConnection<T>(
  pool: Pool,
  work: (db: Tx) => Promise<T>,
  options: Pick<RunOptions, "guard" | "health">,
): Promise<T> {
  const conn = await acquire(pool, options.guard, options.health);
  const stopWatching = options.guard.onAbandon(() => discard(conn));
  try {
    const result = await work(sessionOf(conn));
    stopWatching();
    conn.release();
    options.health?.answered();
    return result;
  } catch (err) {
    stopWatching();
    if (options.guard.abandoned) {
      discard(conn);
      throw new Abandoned();
    }
    const reason = transientReason(err);
    if (reason) {
      options.health?.failed(reason);
      discard(conn);
    } else {
      conn.release();
    }
    throw err;
  }
}
