import { sql } from "drizzle-orm";
import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import mysql from "mysql2/promise";
import type { Config } from "../config";
import * as schema from "./schema";

export type Db = MySql2Database<typeof schema>;
/** Drizzle over one pooled connection inside a transaction (see ./transaction). */
export type Tx = MySql2Database<typeof schema>;
export type Pool = mysql.Pool;

type PoolConfig = Pick<
  Config,
  "DATABASE_URL" | "DB_POOL_SIZE" | "DB_CONNECT_TIMEOUT_MS" | "DB_LOCK_WAIT_TIMEOUT_SECONDS"
>;

export function createPool(config: PoolConfig): Pool {
  const pool = mysql.createPool({
    uri: config.DATABASE_URL,
    connectionLimit: config.DB_POOL_SIZE,
    connectTimeout: config.DB_CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    timezone: "Z",
    // The hold batch sends BEGIN with its locking read, and its writes, as one query each
    // (see transaction.ts, openWith). Safe because every value reaches SQL escaped by mysql2
    // (drizzle binds them) or as an integer checked where the text is written.
    multipleStatements: true,
    // No stack trace per query (docs/hot-path.md, rule 8): our errors are mapped by code.
    trace: false,
  });
  // Every connection reads NOW() in UTC (expiry is decided by the database clock, so several
  // API machines never disagree), waits at most a few seconds for a row lock, and uses
  // READ COMMITTED: locking reads see the latest commit and take no gap locks.
  pool.on("connection", (conn) => {
    conn.query(
      `SET time_zone = '+00:00', innodb_lock_wait_timeout = ${config.DB_LOCK_WAIT_TIMEOUT_SECONDS}`,
    );
    conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    setups.set(conn, galeraSetup(conn as unknown as SetupConnection));
  });
  return pool;
}

/** The length-bearing queues of mysql2's pool (not in its types; stable since mysql2 1.x). */
type PoolInternals = {
  config: { connectionLimit: number };
  _allConnections: { length: number };
  _freeConnections: { length: number };
  _connectionQueue: { length: number };
};

/** The pool's connections and waiters, for the metrics: mysql2 exposes no public counts. */
export function poolUsage(pool: Pool) {
  const core = (pool as unknown as { pool: PoolInternals }).pool;
  return {
    limit: core.config.connectionLimit,
    open: core._allConnections.length,
    idle: core._freeConnections.length,
    waiting: core._connectionQueue.length,
  };
}

type SetupConnection = {
  query: (sql: string, callback: (err: unknown, rows?: unknown) => void) => void;
};

const setups = new WeakMap<object, Promise<void>>();
const combining = new WeakSet<object>();

/**
 * On a Galera node (MariaDB with wsrep on), reads wait until the node has applied every
 * write the cluster committed before them (`wsrep_sync_wait = 1`): a client that made a hold
 * through one node and reads or orders it through another must find it. `SHOW VARIABLES`
 * works on MySQL and MariaDB alike, and answers nothing where there is no wsrep.
 */
function galeraSetup(conn: SetupConnection): Promise<void> {
  return new Promise((resolve) => {
    conn.query("SHOW VARIABLES LIKE 'wsrep_on'", (err, rows) => {
      if (err) return resolve();
      if ((rows as { Value?: string }[] | undefined)?.[0]?.Value !== "ON") {
        combining.add(conn);
        return resolve();
      }
      conn.query("SET SESSION wsrep_sync_wait = 1", () => resolve());
    });
  });
}

/**
 * Whether a transaction on this connection may send several statements in one round trip
 * (known once `connectionReady` resolved). Not on Galera: there a replicated write may roll a
 * transaction back between two statements of one query, and the statements after it then run
 * on their own, outside it. A run of the Galera suite with combined writes saw exactly that: a
 * hold answered 201 that was never stored, and its product's reserved units counted anyway.
 */
export function combinesStatements(core: object): boolean {
  return combining.has(core);
}

/** Resolves once a new connection's session set-up has run (before its first use). */
export function connectionReady(core: object): Promise<void> | undefined {
  return setups.get(core);
}

export function createDb(pool: Pool): Db {
  return drizzle({ client: pool, schema, mode: "default" });
}

/** The database clock, the only one expiry decisions use, so API machines never disagree. */
export const dbNow = sql<string>`NOW(3)`;

export type AutoIncrement = { consecutive: boolean; step: number };

/**
 * How the server numbers the rows of one multi-row INSERT. With innodb_autoinc_lock_mode 0 or
 * 1 (MariaDB's default) they are consecutive, `step` apart; with 2 (MySQL 8's default) or an
 * unknown server they need not be, and callers must read the ids back. The lock mode can only
 * change with a server restart, so reading it once per process is enough. A failed read throws.
 */
export async function readAutoIncrement(db: Db): Promise<AutoIncrement> {
  const [rows] = (await db.execute(
    sql`SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step`,
  )) as unknown as [{ mode: number | string; step: number | string }[]];
  const row = rows[0];
  return { consecutive: Number(row?.mode) <= 1, step: Number(row?.step) || 1 };
}
