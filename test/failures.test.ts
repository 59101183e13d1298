import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type mysql from "mysql2/promise";
import { closeDeps } from "../src/deps";
import {
  admin,
  type Client,
  captureLogs,
  client,
  countBy,
  createHold,
  createOrder,
  createProduct,
  type Reply,
} from "./fixtures";
import {
  buildProxiedApp,
  buildTestApp,
  createTestContext,
  INNODB_TRX_REFRESH_MS,
  invariantViolations,
  rows,
  type TestContext,
  useServedContext,
  waitForLockWaits,
} from "./helpers/harness";
import type { TcpProxy } from "./helpers/tcp-proxy";

// The contract's promise: a 5xx means the request changed nothing, so a client may retry it.

type Tagged = Reply & { kind: string; key?: string; target?: number; event?: string };

const withKey = (key: string) => ({ "idempotency-key": key });

async function count(pool: mysql.Pool, query: string, params: unknown[] = []): Promise<number> {
  const [row] = await rows<{ n: number }>(pool, query, params);
  return Number(row?.n);
}

/** Waits until no transaction of this database is open: abandoned ones have rolled back. */
async function waitForQuiet(pool: mysql.Pool): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await count(
      pool,
      `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t
       JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
       WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID()`,
    );
    if (open === 0) return;
    await Bun.sleep(INNODB_TRX_REFRESH_MS);
  }
  throw new Error("transactions still open");
}

/** Locks rows the way a slow admin session or a stuck batch job would. */
async function lockRows(pool: mysql.Pool, productId: number, orderIds: number[]) {
  const locker = await pool.getConnection();
  await locker.query("BEGIN");
  await locker.query("SELECT id FROM products WHERE id = ? FOR UPDATE", [productId]);
  await locker.query("SELECT id FROM orders WHERE id IN (?) FOR UPDATE", [orderIds]);
  return {
    release: async () => {
      await locker.query("ROLLBACK");
      locker.release();
    },
  };
}

describe.each([
  ["batched holds, lock wait longer than the deadline", "64", "5", "1000"],
  ["unbatched holds, lock wait shorter than the deadline (retries)", "1", "1", "1500"],
])("a row lock held past the request deadline: %s", (_name, batch, lockWait, deadline) => {
  const served = useServedContext({
    HOLD_BATCH_MAX: batch,
    DB_LOCK_WAIT_TIMEOUT_SECONDS: lockWait,
    REQUEST_TIMEOUT_MS: deadline,
    DB_POOL_SIZE: "48",
  });

  test("every 503 left no trace, every 2xx is in the database, keyed retries take effect once", async () => {
    const ctx = served();
    const api = client(ctx.baseUrl);
    const blocked = await createProduct(api, 100);
    const free = await createProduct(api, 100);
    const toRelease = [1, 2, 3, 4].map(() => createHold(api, blocked));
    const toOrder = [1, 2, 3, 4].map(() => createHold(api, blocked));
    const releaseIds = await Promise.all(toRelease);
    const orderHoldIds = await Promise.all(toOrder);
    const pending = await Promise.all(
      [1, 2, 3, 4].map(async () => createOrder(api, await createHold(api, blocked))),
    );
    const holdsBefore = await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds");
    const run = `${batch}-${lockWait}`;
    const lock = await lockRows(ctx.sql, blocked, pending);

    const tag =
      (kind: string, extra: Partial<Tagged> = {}) =>
      (r: Reply) =>
        ({ ...r, kind, ...extra }) as Tagged;
    const requests: Promise<Tagged>[] = [
      ...Array.from({ length: 6 }, () =>
        api.post("/api/holds", { product_id: blocked, qty: 1 }).then(tag("hold")),
      ),
      ...Array.from({ length: 6 }, (_, i) => {
        const key = `hold-${run}-${i}`;
        return api
          .post("/api/holds", { product_id: blocked, qty: 1 }, withKey(key))
          .then(tag("hold", { key }));
      }),
      ...orderHoldIds.map((holdId, i) => {
        const key = i % 2 ? `order-${run}-${i}` : undefined;
        return api
          .post("/api/orders", { hold_id: holdId }, key ? withKey(key) : {})
          .then(tag("order", { key, target: holdId }));
      }),
      ...releaseIds.map((holdId) =>
        api.delete(`/api/holds/${holdId}`).then(tag("release", { target: holdId })),
      ),
      ...pending.map((orderId, i) => {
        const key = `evt-${run}-${i}`;
        const status = i % 2 ? "succeeded" : "failed";
        return api
          .webhook({ idempotency_key: key, order_id: orderId, status })
          .then(tag("webhook", { key, target: orderId, event: status }));
      }),
      ...Array.from({ length: 10 }, () =>
        api.post("/api/holds", { product_id: free, qty: 1 }).then(tag("free hold")),
      ),
    ];
    const replies = await Promise.all(requests);
    await lock.release();
    await waitForQuiet(ctx.sql);

    const onBlocked = replies.filter((r) => r.kind !== "free hold");
    const statuses = countBy(replies, (r) => r.status);
    for (const r of onBlocked) {
      expect(r.status).toBe(503);
      expect(r.body.code).toBe("service_unavailable");
      expect(r.headers.get("retry-after")).toBe("1");
    }

    // No trace of any 503: no new hold, no order, no release, no event, no remembered key.
    const traces = {
      holds: (await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")) - holdsBefore - 10,
      orders: await count(ctx.sql, "SELECT COUNT(*) AS n FROM orders WHERE hold_id IN (?)", [
        orderHoldIds,
      ]),
      released: await count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM holds WHERE id IN (?) AND status <> 'active'",
        [releaseIds],
      ),
      settled: await count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM orders WHERE id IN (?) AND status <> 'pending'",
        [pending],
      ),
      events: await count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM payment_events WHERE idempotency_key LIKE ?",
        [`evt-${run}-%`],
      ),
      keys: await count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key LIKE ? OR idempotency_key LIKE ?",
        [`hold-${run}-%`, `order-${run}-%`],
      ),
    };
    console.info(
      `row-lock suite (${_name}): ${replies.length} requests, statuses ${JSON.stringify(statuses)}; traces left by 503s: ${JSON.stringify(traces)}`,
    );
    expect(traces).toEqual({ holds: 0, orders: 0, released: 0, settled: 0, events: 0, keys: 0 });

    // Every 2xx is in the database.
    const freeHolds = replies.filter((r) => r.kind === "free hold" && r.status === 201);
    expect(freeHolds.length).toBe(10);
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds WHERE id IN (?) AND product_id = ?", [
        freeHolds.map((r) => r.body.hold_id),
        free,
      ]),
    ).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);

    // A keyed request answered 503 and retried takes effect once; a second retry replays it.
    const keyed = onBlocked.filter((r) => r.key !== undefined);
    const retry = (r: Tagged) => {
      const headers = withKey(r.key as string);
      if (r.kind === "hold")
        return api.post("/api/holds", { product_id: blocked, qty: 1 }, headers);
      if (r.kind === "order") return api.post("/api/orders", { hold_id: r.target }, headers);
      return api.webhook({
        idempotency_key: r.key,
        order_id: r.target,
        status: r.event,
      });
    };
    const first = await Promise.all(keyed.map(retry));
    expect(first.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    const again = await Promise.all(keyed.map(retry));
    expect(again.map((r) => r.status)).toEqual(first.map((r) => r.status));
    expect(
      again.every(
        (r) => r.headers.get("idempotent-replayed") === "true" || r.body.duplicate === true,
      ),
    ).toBe(true);
    expect((await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds")) - holdsBefore).toBe(10 + 6);
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM orders WHERE hold_id IN (?)", [orderHoldIds]),
    ).toBe(2);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("a statement cancelled by the database", () => {
  const served = useServedContext({ DB_POOL_SIZE: "16" });

  test("KILL QUERY and KILL on waiting statements: 2xx or 503, never 500, and the database agrees", async () => {
    const ctx = served();
    const api = client(ctx.baseUrl);
    const productId = await createProduct(api, 50);
    const [toRelease, toOrder] = [
      await createHold(api, productId),
      await createHold(api, productId),
    ];
    const lock = await lockRows(ctx.sql, productId, [0]);
    const pending = Promise.all([
      api.post("/api/holds", { product_id: productId, qty: 2 }),
      api.post("/api/orders", { hold_id: toOrder }),
      api.delete(`/api/holds/${toRelease}`),
    ]);
    await waitForLockWaits(ctx.sql, 3);
    const waiting = await rows<{ id: number }>(
      ctx.sql,
      `SELECT t.trx_mysql_thread_id AS id FROM information_schema.innodb_trx t
       JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
       WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()`,
    );
    for (const [i, { id }] of waiting.entries()) {
      await ctx.sql.query(i === 0 ? `KILL CONNECTION ${id}` : `KILL QUERY ${id}`);
    }
    await Bun.sleep(200);
    await lock.release();
    const [hold, order, release] = await pending;
    console.info(
      `kill suite: ${waiting.length} waiting statements killed; answers ${[hold, order, release].map((r) => r.status).join(", ")}`,
    );
    for (const r of [hold, order, release]) expect([200, 201, 503]).toContain(r.status);
    await waitForQuiet(ctx.sql);
    const holdRows = await count(ctx.sql, "SELECT COUNT(*) AS n FROM holds WHERE qty = 2");
    expect(holdRows).toBe(hold.status === 201 ? 1 : 0);
    const orders = await count(ctx.sql, "SELECT COUNT(*) AS n FROM orders WHERE hold_id = ?", [
      toOrder,
    ]);
    expect(orders).toBe(order.status === 201 ? 1 : 0);
    const [released] = await rows<{ status: string }>(
      ctx.sql,
      "SELECT status FROM holds WHERE id = ?",
      [toRelease],
    );
    expect(released?.status).toBe(release.status === 200 ? "released" : "active");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

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
  let ctx: TestContext;
  let proxy: TcpProxy;
  let viaProxy: ReturnType<typeof buildTestApp>;

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ proxy, viaProxy } = buildProxiedApp(ctx, {
      DB_POOL_SIZE: String(POOL),
      REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
    }));
  });
  afterAll(async () => {
    await closeDeps(viaProxy.deps);
    proxy.stop();
    await ctx.close();
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
