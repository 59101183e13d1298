import { Hono } from "hono";
import mysql from "mysql2/promise";

/**
 * The physical limit of a durable hold on this machine, for comparison only (never part of the
 * service): a bare Hono POST route that queues `{product_id, qty}` and, one batch at a time,
 * writes the queued holds in one round trip of the same durable writes as the service's batch
 * (`BEGIN; INSERT INTO holds ...; UPDATE products ...; COMMIT`, on the service's own schema), then
 * answers each 201. No idempotency, buyers, deadline, metrics, sale window or allocation.
 *
 * Usage: bun bench/durable-server.ts <port> <database url>
 */
type Waiting = { qty: number; resolve: (id: number | undefined) => void };

const [portText = "3903", url = ""] = process.argv.slice(2);
const pool = mysql.createPool({ uri: url, connectionLimit: 1, multipleStatements: true });
const queue: Waiting[] = [];
let running = false;

const time = (date: Date) => `'${date.toISOString().slice(0, 23).replace("T", " ")}'`;

async function drain(productId: number): Promise<void> {
  running = true;
  while (queue.length > 0) {
    const batch = queue.splice(0, 1024);
    const units = batch.reduce((sum, w) => sum + w.qty, 0);
    const now = new Date();
    const created = time(now);
    const expires = time(new Date(now.getTime() + 3_600_000));
    const values = batch
      .map((w) => `(${productId},NULL,${w.qty},'active',${expires},${created})`)
      .join(",");
    try {
      const [results] = (await pool.query(
        `BEGIN; INSERT INTO holds (product_id, buyer_id, qty, status, expires_at, created_at) VALUES ${values}; UPDATE products SET stock_reserved = stock_reserved + ${units}, version = version + 1 WHERE id = ${productId} AND stock_available - stock_reserved >= ${units}; COMMIT`,
      )) as unknown as [{ insertId: number }[]];
      const first = results[1]?.insertId ?? 0;
      batch.forEach((w, i) => {
        w.resolve(first + i);
      });
    } catch {
      for (const w of batch) w.resolve(undefined);
    }
  }
  running = false;
}

const app = new Hono().post("/api/holds", async (c) => {
  const input = (await c.req.json()) as { product_id: number; qty: number };
  const id = await new Promise<number | undefined>((resolve) => {
    queue.push({ qty: input.qty, resolve });
    if (!running) void drain(input.product_id);
  });
  if (id === undefined) return c.json({ code: "service_unavailable" }, 503);
  return c.json(
    { hold_id: id, product_id: input.product_id, qty: input.qty, status: "active" },
    201,
  );
});
Bun.serve({ port: Number(portText), hostname: "127.0.0.1", fetch: app.fetch });
console.log(`durable stand-in on ${portText}`);
