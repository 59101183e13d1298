import { sql } from "drizzle-orm";
import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import mysql from "mysql2/promise";
import type { Config } from "../config";
import * as schema from "./schema";

export type Db = MySql2Database<typeof schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
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
  });
  // Every connection reads NOW() in UTC (expiry is decided by the database clock, so several
  // API machines never disagree), waits at most a few seconds for a row lock, and uses
  // READ COMMITTED: locking reads see the latest commit and take no gap locks.
  pool.on("connection", (conn) => {
    conn.query(
      `SET time_zone = '+00:00', innodb_lock_wait_timeout = ${config.DB_LOCK_WAIT_TIMEOUT_SECONDS}`,
    );
    conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  });
  return pool;
}

export function createDb(pool: Pool): Db {
  return drizzle({ client: pool, schema, mode: "default" });
}

/** The database clock, the only one expiry decisions use, so API machines never disagree. */
export const dbNow = sql<string>`NOW(3)`;
