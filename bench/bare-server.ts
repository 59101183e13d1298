import { Hono } from "hono";

/** The ceiling for product reads: a bare Hono JSON route on Bun.serve, nothing else. */
const body = {
  id: 1,
  name: "Limited sneaker",
  price_cents: 12900,
  stock_available: 100,
  stock_reserved: 7,
  available: 93,
};
const app = new Hono().get("/api/products/:id", (c) => c.json(body));
const server = Bun.serve({
  port: Number(process.argv[2] ?? 3999),
  hostname: "127.0.0.1",
  fetch: app.fetch,
});
console.log(`bare server on ${server.port}`);
