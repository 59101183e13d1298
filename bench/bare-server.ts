import { Hono } from "hono";

/**
 * The ceilings: a bare Hono app on Bun.serve, nothing else. GET answers a product's JSON; POST
 * parses a hold request's JSON and answers 201, with no validation, no database, no lock.
 */
const body = {
  id: 1,
  name: "Limited sneaker",
  price_cents: 12900,
  stock_available: 100,
  stock_reserved: 7,
  available: 93,
};
let next = 0;
const app = new Hono()
  .get("/api/products/:id", (c) => c.json(body))
  .post("/api/holds", async (c) => {
    const input = (await c.req.json()) as { product_id: number; qty: number };
    next++;
    return c.json({ hold_id: next, product_id: input.product_id, qty: input.qty }, 201);
  });
const server = Bun.serve({
  port: Number(process.argv[2] ?? 3999),
  hostname: "127.0.0.1",
  fetch: app.fetch,
});
console.log(`bare server on ${server.port}`);
