import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";

const migrationsFolder = fileURLToPath(new URL("../../db/migrations", import.meta.url));
const LOCK_WAIT_SECONDS = 60;

/**
 * What another migrator running the same migration at the same time makes this one see: on a
 * Galera cluster GET_LOCK holds only on its node, so two processes on two nodes can both start.
 * The DDL replicates in total order, so the other one's statements land first; waiting and
 * starting again then finds them recorded in __drizzle_migrations and applies only the rest.
 */
const RACED = new Set([
  1050, // table already exists
  1060, // duplicate column
  1061, // duplicate key name
  1062, // duplicate entry (the migrations table's row)
  1091, // can't drop: already dropped
  1213, // deadlock, or Galera's certification conflict
  1047, // Galera node not ready
]);
const RACE_RETRY_MS = 500;

async function migrateAlongsideOthers(conn: mysql.Connection): Promise<void> {
  const giveUpAt = Date.now() + LOCK_WAIT_SECONDS * 1000;
  for (;;) {
    try {
      await migrate(drizzle({ client: conn }), { migrationsFolder });
      return;
    } catch (err) {
      const errno =
        (err as { errno?: number; cause?: { errno?: number } }).errno ??
        (err as { cause?: { errno?: number } }).cause?.errno;
      if (errno === undefined || !RACED.has(errno) || Date.now() > giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, RACE_RETRY_MS));
    }
  }
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/**
 * Creates the database if it is missing, then applies pending migrations. Several processes
 * starting at once queue on a named lock, so each migration runs exactly once.
 */
export async function migrateDatabase(url: string, connectTimeout = 10_000): Promise<void> {
  const name = databaseName(url);
  const serverUrl = new URL(url);
  serverUrl.pathname = "/";
  const server = await mysql.createConnection({ uri: serverUrl.toString(), connectTimeout });
  try {
    await server.query(
      `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await server.end();
  }

  const conn = await mysql.createConnection({ uri: url, connectTimeout, timezone: "Z" });
  const lockName = `flash_sale_migrate:${name}`.slice(0, 64);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, ?) AS acquired", [
      lockName,
      LOCK_WAIT_SECONDS,
    ]);
    if (rows[0]?.acquired !== 1) {
      throw new Error(`Another process held the migration lock for ${LOCK_WAIT_SECONDS} s`);
    }
    await migrateAlongsideOthers(conn);
  } finally {
    await conn.query("SELECT RELEASE_LOCK(?)", [lockName]).catch(() => undefined);
    await conn.end();
  }
}
