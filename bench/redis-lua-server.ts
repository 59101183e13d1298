import { RedisClient } from "bun";
import { Hono } from "hono";

/**
 * The design most flash-sale write-ups pick, for comparison only (never part of the service):
 * stock in Redis, reserved by a Lua script in one round trip. No durability (Redis here keeps
 * nothing on disk), no idempotency, no expiry, no orders.
 */
const RESERVE = `
local available = tonumber(redis.call('GET', KEYS[1]) or '0')
local qty = tonumber(ARGV[1])
if available < qty then return -1 - available end
redis.call('DECRBY', KEYS[1], qty)
return redis.call('INCR', KEYS[2])`;

const [portText = "3998", stockText = "100000000"] = process.argv.slice(2);
const redis = new RedisClient("redis://127.0.0.1:6379");
await redis.send("SET", ["bench:stock:1", stockText]);
await redis.send("SET", ["bench:holds", "0"]);
const sha = (await redis.send("SCRIPT", ["LOAD", RESERVE])) as string;

const app = new Hono().post("/api/holds", async (c) => {
  const input = (await c.req.json()) as { product_id: number; qty: number };
  const result = (await redis.send("EVALSHA", [
    sha,
    "2",
    `bench:stock:${input.product_id}`,
    "bench:holds",
    String(input.qty),
  ])) as number;
  if (result < 0) return c.json({ code: "insufficient_stock", available: -1 - result }, 409);
  return c.json({ hold_id: result, product_id: input.product_id, qty: input.qty }, 201);
});
Bun.serve({ port: Number(portText), hostname: "127.0.0.1", fetch: app.fetch });
console.log(`redis-lua server on ${portText}`);
