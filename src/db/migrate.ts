import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";

const migrationsFolder = fileURLToPath(new URL("../../db/migrations", import.meta.url));
const LOCK_WAIT_SECONDS = 60;

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
    await migrate(drizzle({ client: conn }), { migrationsFolder });
  } finally {
    await conn.query("SELECT RELEASE_LOCK(?)", [lockName]).catch(() => undefined);
    await conn.end();
  }
}
