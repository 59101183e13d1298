import { describe, expect, test } from "bun:test";
import type mysql from "mysql2/promise";
import {
  client,
  countBy,
  createHold,
  createOrder,
  createProduct,
  type Reply,
} from "./helpers/fixtures";
import {
  count,
  INNODB_TRX_REFRESH_MS,
  rows,
  useServedContext,
  waitForLockWaits,
} from "./helpers/harness";
import { withKey } from "./helpers/idempotency";
import { invariantViolations, storedHold } from "./helpers/invariants";

// The contract's promise: a 5xx means the request changed nothing, so a client may retry it.

type Tagged = Reply & { kind: string; key?: string; target?: number; event?: string };

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
    const released = await storedHold(ctx.sql, toRelease);
    expect(released?.status).toBe(release.status === 200 ? "released" : "active");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

/** How many holds match an answered hold: 1 when it was stored as answered. */
