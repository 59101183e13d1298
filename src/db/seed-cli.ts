import { count } from "drizzle-orm";
import { loadConfig } from "../config";
import { createDb, createPool } from "./client";
import { migrateDatabase } from "./migrate";
import { products } from "./schema";
import { runScript } from "./startup";

/** Creates a demo product when the database has none, so a fresh install has something to sell. */
const config = loadConfig();
await runScript("db:seed", config.DATABASE_URL, async () => {
  await migrateDatabase(config.DATABASE_URL);
  const pool = createPool(config);
  try {
    const db = createDb(pool);
    const [row] = await db.select({ n: count() }).from(products);
    if ((row?.n ?? 0) === 0) {
      await db.insert(products).values({
        name: "Limited sneaker",
        priceCents: 12900,
        stockAvailable: 100,
        stockTotal: 100,
      });
      console.log("seeded demo product 1: Limited sneaker, 100 units at 129.00");
    } else {
      console.log("products exist; nothing seeded");
    }
  } finally {
    await pool.end();
  }
});
