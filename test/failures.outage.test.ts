import { describe, expect, test } from "bun:test";
import type mysql from "mysql2/promise";
import { closeDeps } from "../src/deps";
import { useProxiedApp } from "./helpers/apps";
import {
  admin,
  type Client,
  captureLogs,
  client,
  countBy,
  createProduct,
  type Reply,
} from "./helpers/fixtures";
import { buildTestApp, count, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";

// The contract's promise: a 5xx means the request changed nothing, so a client may retry it.

/** How many holds match an answered hold: 1 when it was stored as answered. */
const holdStored = (pool: mysql.Pool, hold: Reply, productId: number) =>
  count(pool, "SELECT COUNT(*) AS n FROM holds WHERE id = ? AND product_id = ?", [
    hold.body.hold_id,
    productId,
  ]);

/** How many orders match an answered order of `hold`: 1 when it was stored as answered. */
const orderStored = (pool: mysql.Pool, order: Reply, hold: Reply) =>
  count(pool, "SELECT COUNT(*) AS n FROM orders WHERE id = ? AND hold_id = ?", [
    order.body.order_id,
    hold.body.hold_id,
  ]);

describe("BEGIN failing on every connection", () => {
  const POOL = 4;
  const DEADLINE_MS = 3000;
  const { ctx, proxy, viaProxy } = useProxiedApp({
    DB_POOL_SIZE: String(POOL),
    REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
  });

  test(`DB_POOL_SIZE + 5 requests whose BEGIN fails, then the process serves normally without a restart`, async () => {
    const api: Client = client(viaProxy.app);
    const productId = await createProduct(api, 100);
    // The connection carrying BEGIN is cut, as a node that restarts or leaves its cluster does.
    proxy.dropWhenSent("\u0003BEGIN");
    const failed: Reply[] = [];
    for (let i = 0; i < POOL + 5; i++) {
      failed.push(await api.post("/api/holds", { product_id: productId, qty: 1 }));
    }
    expect(proxy.dropped).toBeGreaterThanOrEqual(POOL + 5);
    expect(failed.every((r) => r.status === 503 && r.headers.get("retry-after") === "1")).toBe(
      true,
    );
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")).toBe(0);

    proxy.dropWhenSent(undefined);
    const after = await Promise.all(
      Array.from({ length: POOL * 3 }, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }),
      ),
    );
    console.info(
      `BEGIN suite: ${proxy.dropped} connections cut at BEGIN over ${failed.length} requests (all 503); then ${after.length} concurrent holds: ${JSON.stringify(countBy(after, (r) => r.status))}`,
    );
    expect(countBy(after, (r) => r.status)).toEqual({ "201": POOL * 3 });
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")).toBe(POOL * 3);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("COMMIT sent and its answer lost: answered with the real outcome, found in the database", async () => {
    const api = client(viaProxy.app);
    const productId = await createProduct(api, 100);
    const before = await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds");
    // A hold batch sends its writes and COMMIT in one query.
    proxy.dropWhenSent(";\nCOMMIT", { forward: true, once: true });
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 });
    const order = await (async () => {
      proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true });
      return api.post("/api/orders", { hold_id: hold.body.hold_id });
    })();
    proxy.dropWhenSent(undefined);
    console.info(
      `lost COMMIT answers: hold ${hold.status}, order ${order.status} (the database had committed both)`,
    );
    expect(hold.status).toBe(201);
    expect(order.status).toBe(201);
    expect((await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")) - before).toBe(1);
    // The id answered is this hold's, read back from the batch's row.
    expect(await holdStored(ctx.sql, hold, productId)).toBe(1);
    expect(await orderStored(ctx.sql, order, hold)).toBe(1);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("COMMIT sent, its answer lost and the database out of reach past the deadline: the real outcome once it is back", async () => {
    const api = client(viaProxy.app);
    const productId = await createProduct(api, 100);
    const before = await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds");
    const answers: Reply[] = [];
    // A hold batch sends its writes and COMMIT in one query; an order sends COMMIT alone.
    proxy.dropWhenSent(";\nCOMMIT", { forward: true, once: true, thenCut: true });
    const holding = api.post("/api/holds", { product_id: productId, qty: 1 }).then((reply) => {
      answers.push(reply);
      return reply;
    });
    // Past the request deadline without a database: a 503 now could hide the committed hold.
    await Bun.sleep(DEADLINE_MS + 1000);
    const answeredWhileAway = answers.length;
    proxy.restore();
    const hold = await holding;
    console.info(
      `lost COMMIT, database away ${DEADLINE_MS + 1000} ms: ${answeredWhileAway} answers while away, then ${hold.status}`,
    );
    expect(proxy.dropped).toBeGreaterThan(0);
    expect(answeredWhileAway).toBe(0);
    expect(hold.status).toBe(201);
    expect((await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")) - before).toBe(1);
    expect(await holdStored(ctx.sql, hold, productId)).toBe(1);

    proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true, thenCut: true });
    const ordering = api.post("/api/orders", { hold_id: hold.body.hold_id });
    await Bun.sleep(DEADLINE_MS + 1000);
    proxy.restore();
    const order = await ordering;
    expect(order.status).toBe(201);
    expect(await orderStored(ctx.sql, order, hold)).toBe(1);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("admin writes whose COMMIT answer is lost: the real outcome, applied once; never reaching the database: 503, nothing applied", async () => {
    const api = client(viaProxy.app);
    const stockOf = async (id: number) =>
      Number(
        (
          await rows<{ n: number }>(ctx.sql, "SELECT stock_total AS n FROM products WHERE id = ?", [
            id,
          ])
        )[0]?.n,
      );
    const products = () => count(ctx.sql, "SELECT COUNT(*) AS n FROM products");

    const before = await products();
    proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true });
    const created = await api.post(
      "/api/admin/products",
      { name: "Lost answer", price_cents: 100, stock: 10 },
      admin,
    );
    expect(created.status).toBe(201);
    expect((await products()) - before).toBe(1);
    const id = created.body.id as number;

    proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true, thenCut: true });
    const restocking = api.post(`/api/admin/products/${id}/restock`, { qty: 5 }, admin);
    await Bun.sleep(DEADLINE_MS + 1000);
    proxy.restore();
    const restocked = await restocking;
    proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true });
    const renamed = await api.patch(`/api/admin/products/${id}`, { max_per_buyer: 3 }, admin);
    expect(proxy.dropped).toBeGreaterThanOrEqual(3);
    expect(restocked.status).toBe(200);
    expect(restocked.body.stock_available).toBe(15);
    expect(renamed.status).toBe(200);
    expect(renamed.body.max_per_buyer).toBe(3);
    expect(await stockOf(id)).toBe(15);

    proxy.dropWhenSent("\u0003COMMIT");
    const lost = await api.post(`/api/admin/products/${id}/restock`, { qty: 7 }, admin);
    const lostCreate = await api.post(
      "/api/admin/products",
      { name: "Never stored", price_cents: 100, stock: 10 },
      admin,
    );
    proxy.dropWhenSent(undefined);
    expect(lost.status).toBe(503);
    expect(lostCreate.status).toBe(503);
    expect(await stockOf(id)).toBe(15);
    expect((await products()) - before).toBe(1);
    // The audit entries commit with their changes: the three committed ones have theirs (one
    // each, though each COMMIT's answer was lost), the two 503s none.
    const audited = await rows<{ action: string }>(
      ctx.sql,
      "SELECT action FROM audit_entries WHERE target = ? ORDER BY id",
      [`product:${id}`],
    );
    expect(audited.map((e) => e.action)).toEqual([
      "product.create",
      "product.restock",
      "product.update",
    ]);
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries WHERE changes LIKE ?", [
        "%Never stored%",
      ]),
    ).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("COMMIT never reaching the database: 503 and no trace", async () => {
    const api = client(viaProxy.app);
    const productId = await createProduct(api, 100);
    const before = await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds");
    const batches = await count(ctx.sql, "SELECT COUNT(*) AS n FROM hold_batches");
    // A hold batch sends its writes and COMMIT in one query.
    proxy.dropWhenSent(";\nCOMMIT");
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 });
    proxy.dropWhenSent(undefined);
    expect(hold.status).toBe(503);
    expect(hold.headers.get("retry-after")).toBe("1");
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")).toBe(before);
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM hold_batches")).toBe(batches);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("an outage is logged once when lost and once when back, not once per request", async () => {
    const { lines, logger } = captureLogs("info");
    const url = new URL(ctx.url);
    url.port = String(proxy.port);
    const watched = buildTestApp(
      url.toString(),
      { REQUEST_TIMEOUT_MS: "2000", DB_CONNECT_TIMEOUT_MS: "500" },
      logger,
    );
    try {
      const api = client(watched.app);
      const productId = await createProduct(api, 100);
      proxy.cut();
      const during = await Promise.all(
        Array.from({ length: 40 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
      );
      proxy.restore();
      let back = 0;
      for (let i = 0; i < 50 && back !== 201; i++) {
        back = (await api.post("/api/holds", { product_id: productId, qty: 1 })).status;
      }
      expect(during.every((r) => r.status === 503)).toBe(true);
      expect(back).toBe(201);
      const entries = lines
        .map((l) => JSON.parse(l) as { msg: string; level: number; failures?: number })
        .filter((e) => e.level >= 40);
      console.info(
        `outage logging: ${during.length} failed requests, ${entries.length} warn/error lines: ${entries.map((e) => e.msg).join(" | ")}`,
      );
      expect(entries.map((e) => e.msg)).toEqual([
        "database lost: answering 503 until it is back",
        "database back",
      ]);
      expect(entries[1]?.failures).toBeGreaterThan(0);
    } finally {
      proxy.restore();
      await closeDeps(watched.deps);
    }
  });

  test("/readyz answers 503 within about a second while the database hangs", async () => {
    proxy.cut();
    try {
      const started = performance.now();
      const ready = await client(viaProxy.app).get("/readyz");
      const ms = performance.now() - started;
      expect(ready.status).toBe(503);
      // Bounded, not timed: the probe's own limit is 1 s; anything near the request deadline
      // (3 s here) would mean it waited on the database.
      expect(ms).toBeLessThan(2500);
    } finally {
      proxy.restore();
    }
    expect((await client(viaProxy.app).get("/readyz")).status).toBe(200);
  });
});
