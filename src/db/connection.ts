import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/mysql2";
import type mysql from "mysql2/promise";
import type { CommitGuard } from "../deadline/deadline";
import { combinesStatements, connectionReady, type Pool, type Tx } from "./client";
import { Abandoned, PoolExhausted, transientReason } from "./errors";
import type { DatabaseHealth } from "./health";
import * as schema from "./schema";

// A pooled connection's life for one caller: taken within the callers' time, given its one
// drizzle session, and either released clean or discarded when its state is unknown.

export type Connection = mysql.PoolConnection;

const sessions = new WeakMap<object, Tx>();
/** Each session's pooled connection: what `combinesStatements` knows of is the connection. */
const connectionOf = new WeakMap<Tx, object>();

/** One drizzle session per pooled connection, made the first time it is used. */
export function sessionOf(conn: Connection): Tx {
  let session = sessions.get(conn.connection);
  if (!session) {
    session = drizzle({ client: conn, schema, mode: "default" });
    sessions.set(conn.connection, session);
    connectionOf.set(session, conn.connection);
  }
  return session;
}

/**
 * `combinesStatements` asked of the connection under a session: the one fact, kept once (in
 * client.ts, per connection), read here by the session the services hold.
 */
export function combines(tx: Tx): boolean {
  const connection = connectionOf.get(tx);
  return connection !== undefined && combinesStatements(connection);
}

/**
 * A pooled connection, or PoolExhausted once the callers' time is up: mysql2's pool has no
 * acquire timeout, and without one a request waits on an exhausted pool forever. A connection
 * attempt that fails after its caller left still tells the health tracker.
 */
export function acquire(
  pool: Pool,
  guard: CommitGuard,
  health?: DatabaseHealth,
): Promise<Connection> {
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
export function discard(conn: Connection): void {
  const stream = (conn.connection as unknown as { stream?: { destroy: (err: Error) => void } })
    .stream;
  stream?.destroy(new Error("connection discarded"));
  conn.destroy();
}

export async function rollback(conn: Connection): Promise<void> {
  try {
    await conn.query("ROLLBACK");
    conn.release();
  } catch {
    discard(conn);
  }
}

/**
 * Runs statements in order on `tx`, in one round trip where the connection
 * `combinesStatements`; their results, one per statement.
 */
export async function runStatements(tx: Tx, statements: string[]): Promise<unknown[]> {
  if (statements.length > 1 && combines(tx)) {
    const [results] = await tx.execute(sql.raw(statements.join(";\n")));
    return results as unknown as unknown[];
  }
  const results: unknown[] = [];
  for (const statement of statements) results.push((await tx.execute(sql.raw(statement)))[0]);
  return results;
}

export function connectionGone(conn: Connection): boolean {
  const core = conn.connection as unknown as { _fatalError?: unknown; _closing?: boolean };
  return Boolean(core._fatalError || core._closing);
}

/**
 * Runs reads on one pooled connection, cut off (and the connection closed) when the callers
 * give up, so that a hung database cannot keep pooled connections past the deadline.
 */
export async function withConnection<T>(
  pool: Pool,
  work: (db: Tx) => Promise<T>,
  options: { guard: CommitGuard; health?: DatabaseHealth | undefined },
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
