import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { migrateDatabase } from "../src/db/migrate";
import { databaseUrl } from "./helpers/harness";

const name = `fs_test_migrate_${process.pid}`;
const url = databaseUrl(name);

afterAll(async () => {
  const conn = await mysql.createConnection({ uri: databaseUrl("") });
  await conn.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  await conn.end();
});

describe("migrator", () => {
  test("creates a missing database; four concurrent runs apply each migration once", async () => {
    await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(url)));
    const conn = await mysql.createConnection({ uri: url });
    try {
      const [applied] = (await conn.query(
        "SELECT COUNT(*) AS n FROM __drizzle_migrations",
      )) as unknown as [{ n: number }[]];
      const migrations = readdirSync(join(import.meta.dir, "..", "db", "migrations")).filter(
        (file) => file.endsWith(".sql"),
      );
      expect(applied[0]?.n).toBe(migrations.length);
      const [tables] = (await conn.query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?",
        [name],
      )) as unknown as [{ name: string }[]];
      expect(tables.map((t) => t.name).sort()).toEqual([
        "__drizzle_migrations",
        "audit_entries",
        "commit_proofs",
        "hold_batches",
        "holds",
        "idempotency_keys",
        "merchant_events",
        "order_gates",
        "orders",
        "payment_events",
        "products",
        "queue_tickets",
        "waiting_rooms",
      ]);
    } finally {
      await conn.end();
    }
  });

  test("the schema refuses stock_reserved above stock_available (CHECK constraint)", async () => {
    const conn = await mysql.createConnection({ uri: url });
    try {
      await expect(
        conn.query(
          "INSERT INTO products (name, price_cents, stock_available, stock_reserved, stock_total) VALUES ('x', 1, 1, 2, 1)",
        ),
      ).rejects.toThrow();
      await expect(
        conn.query(
          "INSERT INTO products (name, price_cents, stock_available, stock_reserved, stock_total) VALUES ('x', 1, 1, -1, 1)",
        ),
      ).rejects.toThrow();
    } finally {
      await conn.end();
    }
  });
});
