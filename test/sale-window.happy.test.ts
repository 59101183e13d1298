import { describe, expect, test } from "bun:test";
import { closeDeps } from "../src/deps";
import { useTestApp } from "./helpers/apps";
import { databaseNow, iso } from "./helpers/clock";
import { admin, client } from "./helpers/fixtures";
import { buildProxiedApp, buildTestApp, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { createWindowed } from "./helpers/sale-window";
import { openEvents } from "./helpers/sse";

// The sale window (contract: GET /api/products/:id, POST /api/holds, invariant 6): shown on every
// read, set and moved by the operator, and decided by the database's clock.

const { ctx, api } = useTestApp();

const dbNow = () => databaseNow(ctx.sql);

/**
 * An app over the test's database whose every connection reads the database's clock as frozen
 * at `at`: the database alone decides the window, whatever the process's clock says.
 */
function appAtDbTime(at: number) {
  const built = buildTestApp(ctx.url);
  built.deps.pool.on("connection", (conn) => {
    conn.query(`SET timestamp = ${(at / 1000).toFixed(3)}`);
  });
  return built;
}

async function holdAt(at: number, productId: number) {
  const { app, deps } = appAtDbTime(at);
  try {
    return await client(app).post("/api/holds", { product_id: productId, qty: 1 });
  } finally {
    await closeDeps(deps);
  }
}

describe("happy: the window on every read", () => {
  test("create, read, list and PATCH show the window and the state as of the read", async () => {
    const startsAt = Date.now() + 3_600_000;
    const endsAt = startsAt + 600_000;
    const id = await createWindowed(api, {
      sale_starts_at: iso(startsAt),
      sale_ends_at: iso(endsAt),
    });
    const read = await api.get(`/api/products/${id}`);
    expect(read.body).toMatchObject({
      sale_starts_at: iso(startsAt),
      sale_ends_at: iso(endsAt),
      sale_state: "upcoming",
    });
    const listed = await api.get(`/api/admin/products?after_id=${id - 1}&limit=1`, admin);
    expect((listed.body.products as Record<string, unknown>[])[0]).toMatchObject({
      id,
      sale_starts_at: iso(startsAt),
      sale_state: "upcoming",
    });
    const opened = await api.patch(
      `/api/admin/products/${id}`,
      { sale_starts_at: iso(Date.now() - 1000) },
      admin,
    );
    expect(opened.body).toMatchObject({ sale_ends_at: iso(endsAt), sale_state: "live" });
    const ended = await api.patch(
      `/api/admin/products/${id}`,
      { sale_starts_at: null, sale_ends_at: iso(Date.now() - 1) },
      admin,
    );
    expect(ended.body).toMatchObject({ sale_starts_at: null, sale_state: "ended" });
    expect((await api.get(`/api/products/${id}`)).body.sale_state).toBe("ended");
  });

  test("a timestamp with an offset is stored as the same instant, shown in UTC", async () => {
    const id = await createWindowed(api, { sale_starts_at: "2030-01-01T12:00:00.5+02:00" });
    expect((await api.get(`/api/products/${id}`)).body.sale_starts_at).toBe(
      "2030-01-01T10:00:00.500Z",
    );
  });

  test("the database's clock decides: a millisecond before the opening is refused, the opening is granted", async () => {
    // The process's clock says the sale is open; the database's says otherwise until S.
    const opensAt = (await dbNow()) - 60_000;
    const closesAt = opensAt + 10_000;
    const id = await createWindowed(api, {
      sale_starts_at: iso(opensAt),
      sale_ends_at: iso(closesAt),
    });

    const early = await holdAt(opensAt - 1, id);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ code: "sale_not_started", starts_at: iso(opensAt) });
    expect(early.headers.get("retry-after")).toBe("1");

    const onTime = await holdAt(opensAt, id);
    expect(onTime.status).toBe(201);
    const last = await holdAt(closesAt - 1, id);
    expect(last.status).toBe(201);
    const late = await holdAt(closesAt, id);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: "sale_ended", ended_at: iso(closesAt) });

    const held = await rows<{ id: unknown; created_at: Date }>(
      ctx.sql,
      "SELECT id, created_at FROM holds WHERE product_id = ? ORDER BY id",
      [id],
    );
    expect(held.map((h) => [h.id, h.created_at.getTime()])).toEqual([
      [onTime.body.hold_id, opensAt],
      [last.body.hold_id, closesAt - 1],
    ]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("the window comes before stock: an upcoming product with nothing left is sale_not_started", async () => {
    const id = await createWindowed(api, { sale_starts_at: iso(Date.now() + 3_600_000) }, 0);
    const hold = await api.post("/api/holds", { product_id: id, qty: 1 });
    expect(hold.status).toBe(409);
    expect(hold.body.code).toBe("sale_not_started");
  });

  test("holds granted inside the window become orders after it closes; a window change leaves them alone", async () => {
    const closesAt = (await dbNow()) + 1500;
    const id = await createWindowed(api, { sale_ends_at: iso(closesAt) });
    const first = await api.post("/api/holds", { product_id: id, qty: 1 });
    const second = await api.post("/api/holds", { product_id: id, qty: 2 });
    expect([first.status, second.status]).toEqual([201, 201]);
    while ((await dbNow()) < closesAt) await Bun.sleep(100);

    const late = await api.post("/api/holds", { product_id: id, qty: 1 });
    expect(late.body.code).toBe("sale_ended");
    const order = await api.post("/api/orders", { hold_id: first.body.hold_id });
    expect(order.status).toBe(201);
    // Moving the start into the future refuses new holds and touches no existing one.
    const moved = await api.patch(
      `/api/admin/products/${id}`,
      { sale_starts_at: iso(closesAt - 10_000), sale_ends_at: iso(Date.now() + 7_200_000) },
      admin,
    );
    expect(moved.status).toBe(200);
    expect((await api.get(`/api/holds/${second.body.hold_id}`)).body.status).toBe("active");
    expect((await api.post("/api/orders", { hold_id: second.body.hold_id })).status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("happy: pre-opening refusals from memory", () => {
  test("far from the opening a refusal needs no database; within SALE_CLOCK_MARGIN_MS the database decides", async () => {
    const { proxy, viaProxy } = buildProxiedApp(ctx, {
      SALE_CLOCK_MARGIN_MS: "1000",
      PRODUCT_CACHE_TTL_MS: "60000",
      REQUEST_TIMEOUT_MS: "2000",
    });
    const shop = client(viaProxy.app);
    const hold = (id: number) => shop.post("/api/holds", { product_id: id, qty: 1 });
    try {
      const far = await createWindowed(api, { sale_starts_at: iso(Date.now() + 90_000) });
      const soon = Date.now() + 2500;
      const near = await createWindowed(api, { sale_starts_at: iso(soon) });
      // The first refusal of each comes from the database and leaves the window in memory.
      for (const id of [far, near]) expect((await hold(id)).body.code).toBe("sale_not_started");

      proxy.cut();
      const fromMemory = await hold(far);
      expect(fromMemory.status).toBe(409);
      expect(fromMemory.body.code).toBe("sale_not_started");
      const seconds = Number(fromMemory.headers.get("retry-after"));
      expect(seconds).toBeGreaterThanOrEqual(80);
      expect(seconds).toBeLessThanOrEqual(90);

      // Within the margin of the opening, only the database may refuse: it is out of reach.
      while (Date.now() < soon - 900) await Bun.sleep(20);
      const asked = await hold(near);
      expect(asked.status).toBe(503);
    } finally {
      proxy.stop();
      await closeDeps(viaProxy.deps);
    }
  });
});

describe("happy: a storm before the opening stays in memory", () => {
  test("for several cache lifetimes, only 409 sale_not_started: the copy is read again before it expires", async () => {
    // One request waiting per product at most: a storm falling through to the database at an
    // expiry would be seen as 429s.
    const { app, deps } = buildTestApp(ctx.url, {
      HOLD_QUEUE_MAX: "1",
      PRODUCT_CACHE_TTL_MS: "1000",
    });
    const shop = client(app);
    try {
      const id = await createWindowed(api, { sale_starts_at: iso(Date.now() + 3_600_000) });
      expect((await shop.post("/api/holds", { product_id: id, qty: 1 })).status).toBe(409);
      const seen: Record<string, number> = {};
      const until = Date.now() + 3500;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          for (let i = 0; i < 2000 && Date.now() < until; i++) {
            const reply = await shop.post("/api/holds", { product_id: id, qty: 1 });
            const kind = `${reply.status} ${String(reply.body.code)}`;
            seen[kind] = (seen[kind] ?? 0) + 1;
            await Bun.sleep(5);
          }
        }),
      );
      expect(Object.keys(seen)).toEqual(["409 sale_not_started"]);
    } finally {
      await closeDeps(deps);
    }
  });
});

describe("happy: the live stock stream flips with the window", () => {
  test("subscribers learn of the opening and the closing without any hold", async () => {
    const opensAt = Date.now() + 1200;
    const id = await createWindowed(api, {
      sale_starts_at: iso(opensAt),
      sale_ends_at: iso(opensAt + 1200),
    });
    const { app, deps } = buildTestApp(ctx.url, { STOCK_EVENTS_INTERVAL_MS: "50" });
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    const stream = await openEvents(`http://127.0.0.1:${server.port}/api/products/${id}/events`);
    try {
      const first = await stream.waitFor(() => true);
      expect(first.data.sale_state).toBe("upcoming");
      const live = await stream.waitFor((e) => e.data.sale_state === "live", 15_000);
      const ended = await stream.waitFor((e) => e.data.sale_state === "ended", 15_000);
      expect(live.id).toBeGreaterThan(first.id);
      expect(ended.id).toBeGreaterThan(live.id);
      const [holds] = await rows<{ n: number }>(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM holds WHERE product_id = ?",
        [id],
      );
      expect(Number(holds?.n)).toBe(0);
    } finally {
      stream.close();
      await server.stop(true);
      await closeDeps(deps);
    }
  });
});
