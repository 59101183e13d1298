import { describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { HS256 } from "./helpers/buyers";
import { ISO_MS } from "./helpers/clock";
import { expectProblem } from "./helpers/contract";
import { admin, client } from "./helpers/fixtures";
import { createTestContext } from "./helpers/harness";
import { holdCount, invariantViolations } from "./helpers/invariants";
import { as, roomProduct, tickets } from "./helpers/waiting-room";

// The waiting room through the in-process app: settings, joins, ticket reads, and the hold's
// admission check. Races through real processes are in waiting-room.races.test.ts, admission
// timed by the database in waiting-room.admission.test.ts.

const { ctx, api } = useTestApp(HS256);

describe("settings", () => {
  test("the operator's product list shows the line as GET does (joined, serving)", async () => {
    const id = await roomProduct(api, { admit_per_second: 0 });
    for (const buyer of ["list-1", "list-2"]) {
      expect((await api.post(`/api/products/${id}/queue`, undefined, await as(buyer))).status).toBe(
        201,
      );
    }
    const listed = await api.get("/api/admin/products?limit=100", admin);
    const product = (listed.body.products as { id: number; waiting_room: unknown }[]).find(
      (p) => p.id === id,
    );
    expect(product?.waiting_room).toEqual({
      admit_per_second: 0,
      admission_seconds: 300,
      serving: 0,
      joined: 2,
    });
  });

  test("create, change and remove a waiting room: the product shows it", async () => {
    const id = await roomProduct(api, { admit_per_second: 50 });
    const read = await api.get(`/api/products/${id}`);
    expect(read.body.waiting_room).toEqual({
      admit_per_second: 50,
      admission_seconds: 300,
      serving: 0,
      joined: 0,
    });
    const changed = await api.patch(
      `/api/admin/products/${id}`,
      { waiting_room: { admit_per_second: 0, admission_seconds: 60 } },
      admin,
    );
    expect(changed.status).toBe(200);
    expect(changed.body.waiting_room).toEqual({
      admit_per_second: 0,
      admission_seconds: 60,
      serving: 0,
      joined: 0,
    });
    const renamed = await api.patch(`/api/admin/products/${id}`, { name: "Renamed" }, admin);
    expect(renamed.body.waiting_room).toMatchObject({ admission_seconds: 60 });
    const removed = await api.patch(`/api/admin/products/${id}`, { waiting_room: null }, admin);
    expect(removed.body.waiting_room).toBeNull();
    // Each change is in the audit log like any product change; the rename changed none of it.
    const audit = await api.get("/api/admin/audit?limit=1000", admin);
    const changes = (audit.body.entries as { target: string; changes: object }[])
      .filter((e) => e.target === `product:${id}`)
      .map((e) => e.changes);
    expect(changes).toEqual([
      {
        name: [null, "Hyped sneaker"],
        price_cents: [null, 100],
        stock_available: [null, 100],
        "waiting_room.admit_per_second": [null, 50],
        "waiting_room.admission_seconds": [null, 300],
      },
      {
        "waiting_room.admit_per_second": [50, 0],
        "waiting_room.admission_seconds": [300, 60],
      },
      { name: ["Hyped sneaker", "Renamed"] },
      {
        "waiting_room.admit_per_second": [0, null],
        "waiting_room.admission_seconds": [60, null],
      },
    ]);
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toBeNull();
  });

  test("anything but the settings object or null is 422 and changes nothing", async () => {
    const id = await roomProduct(api, { admit_per_second: 5, admission_seconds: 20 });
    for (const waiting_room of [
      { admit_per_second: -1 },
      { admit_per_second: 100_001 },
      { admit_per_second: 1.5 },
      { admit_per_second: "5" },
      { admit_per_second: 5, admission_seconds: 9 },
      { admit_per_second: 5, admission_seconds: 3601 },
      { admit_per_second: 5, extra: 1 },
      { admission_seconds: 30 },
      5,
      "on",
      [],
    ]) {
      const reply = await api.patch(`/api/admin/products/${id}`, { waiting_room }, admin);
      expect(reply.status).toBe(422);
      expect(reply.body.code).toBe("validation_failed");
      const created = await api.post(
        "/api/admin/products",
        { name: "x", price_cents: 1, stock: 1, waiting_room },
        admin,
      );
      expect(created.status).toBe(422);
    }
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toEqual({
      admit_per_second: 5,
      admission_seconds: 20,
      serving: 0,
      joined: 0,
    });
  });
});

describe("joining and reading a ticket", () => {
  test("a join gives a ticket (201); joining again gives the same one (200)", async () => {
    const id = await roomProduct(api, { admit_per_second: 0 });
    const alice = await as("alice");
    const first = await api.post(`/api/products/${id}/queue`, undefined, alice);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      ticket_id: expect.any(Number),
      product_id: id,
      buyer_id: "alice",
      position: 1,
      state: "waiting",
      ahead: 0,
      joined_at: expect.stringMatching(ISO_MS),
      admitted_at: null,
      admitted_until: null,
    });
    expect(Number(first.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const again = await api.post(`/api/products/${id}/queue`, undefined, alice);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const bob = await api.post(`/api/products/${id}/queue`, undefined, await as("bob"));
    expect(bob.status).toBe(201);
    expect(bob.body.position).toBe(2);
    expect(bob.body.ahead).toBe(1);
    const read = await api.get(`/api/products/${id}/queue`, await as("bob"));
    expect(read.status).toBe(200);
    expect(read.body).toEqual(bob.body);
    expect(read.headers.get("retry-after")).not.toBeNull();
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toMatchObject({ joined: 2 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a ticket read again shows the line moving, not the answer served before", async () => {
    const id = await roomProduct(api, { admit_per_second: 5 });
    await Promise.all(
      Array.from({ length: 29 }, async (_, i) =>
        api.post(`/api/products/${id}/queue`, undefined, await as(`mover-${i}`)),
      ),
    );
    const last = await as("mover-last");
    expect((await api.post(`/api/products/${id}/queue`, undefined, last)).body.position).toBe(30);
    const first = await api.get(`/api/products/${id}/queue`, last);
    // At 5 a second the line moves at least one position in 300 ms: the same copy of the line
    // (kept for PRODUCT_CACHE_TTL_MS) must not answer the same body.
    await Bun.sleep(300);
    const second = await api.get(`/api/products/${id}/queue`, last);
    expect(first.body.state).toBe("waiting");
    expect(second.body.state).toBe("waiting");
    expect(second.body.ahead as number).toBeLessThan(first.body.ahead as number);
    expect({ ...second.body, ahead: 0 }).toEqual({ ...first.body, ahead: 0 });
  });

  test("errors: no such product, no waiting room, no ticket, sale ended, no token", async () => {
    const alice = await as("alice");
    const missing = await api.post("/api/products/999999/queue", undefined, alice);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("product_not_found");
    const plain = await api.post(
      "/api/admin/products",
      { name: "Plain", price_cents: 1, stock: 1 },
      admin,
    );
    for (const reply of [
      await api.post(`/api/products/${plain.body.id}/queue`, undefined, alice),
      await api.get(`/api/products/${plain.body.id}/queue`, alice),
    ]) {
      expectProblem(reply, 409, {
        title: "No waiting room",
        code: "no_waiting_room",
        detail: `Product ${plain.body.id} has no waiting room.`,
      });
    }
    const id = await roomProduct(api, { admit_per_second: 1 });
    const none = await api.get(`/api/products/${id}/queue`, alice);
    expect(none.status).toBe(404);
    expect(none.body.code).toBe("ticket_not_found");
    const noToken = await api.post(`/api/products/${id}/queue`, undefined);
    expect(noToken.status).toBe(401);
    const ended = await roomProduct(
      api,
      { admit_per_second: 1 },
      { sale_starts_at: "2020-01-01T00:00:00.000Z", sale_ends_at: "2020-01-02T00:00:00.000Z" },
    );
    const late = await api.post(`/api/products/${ended}/queue`, undefined, alice);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("sale_ended");
    expect(await tickets(ctx.sql, ended)).toEqual([]);
  });
});

describe("the hold's admission check", () => {
  test("before admission: not_admitted with the position and Retry-After; admitted: granted", async () => {
    const id = await roomProduct(api, { admit_per_second: 0 }, {}, 5);
    const carol = await as("carol");
    const without = await api.post("/api/holds", { product_id: id, qty: 1 }, carol);
    expect(without.status).toBe(409);
    expect(without.body.code).toBe("not_admitted");
    expect(without.body.position).toBeNull();
    await api.post(`/api/products/${id}/queue`, undefined, await as("dave"));
    const joined = await api.post(`/api/products/${id}/queue`, undefined, carol);
    const waiting = await api.post("/api/holds", { product_id: id, qty: 1 }, carol);
    expect(waiting.status).toBe(409);
    expect(waiting.body.code).toBe("not_admitted");
    expect(waiting.body.position).toBe(2);
    expect(Number(waiting.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await holdCount(ctx.sql, id)).toBe(0);
    // A high rate admits both at once (well within a second).
    await api.patch(
      `/api/admin/products/${id}`,
      { waiting_room: { admit_per_second: 1000 } },
      admin,
    );
    let held = waiting;
    for (let i = 0; i < 50 && held.status !== 201; i++) {
      await Bun.sleep(20);
      held = await api.post("/api/holds", { product_id: id, qty: 1 }, carol);
    }
    expect(held.status).toBe(201);
    const [ticket] = (await tickets(ctx.sql, id)).filter((t) => t.buyer_id === "carol");
    expect(ticket?.id).toBe(joined.body.ticket_id as number);
    expect(ticket?.admitted_at).not.toBeNull();
    const read = await api.get(`/api/products/${id}/queue`, carol);
    expect(read.body.state).toBe("admitted");
    expect(read.body.ahead).toBe(0);
    expect(read.body.admitted_at).toBe(ticket?.admitted_at?.toISOString());
    expect(read.headers.get("retry-after")).toBeNull();
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("after the admission ends: not_admitted; a new join goes to the back", async () => {
    const id = await roomProduct(api, { admit_per_second: 1000, admission_seconds: 10 }, {}, 5);
    const erin = await as("erin");
    const first = await api.post(`/api/products/${id}/queue`, undefined, erin);
    expect(first.body.position).toBe(1);
    await Bun.sleep(100);
    expect((await api.post("/api/holds", { product_id: id, qty: 1 }, erin)).status).toBe(201);
    await api.patch(`/api/admin/products/${id}`, { waiting_room: { admit_per_second: 0 } }, admin);
    for (const buyer of ["f1", "f2", "f3"]) {
      await api.post(`/api/products/${id}/queue`, undefined, await as(buyer));
    }
    await Bun.sleep(10_200);
    const read = await api.get(`/api/products/${id}/queue`, erin);
    expect(read.body.state).toBe("expired");
    expect(read.headers.get("retry-after")).toBeNull();
    const late = await api.post("/api/holds", { product_id: id, qty: 1 }, erin);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("not_admitted");
    expect(late.body.position).toBe(1);
    const rejoined = await api.post(`/api/products/${id}/queue`, undefined, erin);
    expect(rejoined.status).toBe(201);
    expect(rejoined.body.position).toBe(5);
    expect(rejoined.body.ticket_id).not.toBe(first.body.ticket_id);
    expect(rejoined.body.state).toBe("waiting");
    expect((await api.get(`/api/products/${id}/queue`, erin)).body.ticket_id).toBe(
      rejoined.body.ticket_id,
    );
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toMatchObject({ joined: 5 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 20_000);

  test("removing the room lets holds through without tickets; restoring keeps tickets and positions", async () => {
    const id = await roomProduct(api, { admit_per_second: 0 }, {}, 10);
    for (const buyer of ["g1", "g2"]) {
      await api.post(`/api/products/${id}/queue`, undefined, await as(buyer));
    }
    const g3 = await as("g3");
    expect((await api.post("/api/holds", { product_id: id, qty: 1 }, g3)).status).toBe(409);
    await api.patch(`/api/admin/products/${id}`, { waiting_room: null }, admin);
    expect((await api.post("/api/holds", { product_id: id, qty: 1 }, g3)).status).toBe(201);
    const closed = await api.post(`/api/products/${id}/queue`, undefined, g3);
    expect(closed.body.code).toBe("no_waiting_room");
    const restored = await api.patch(
      `/api/admin/products/${id}`,
      { waiting_room: { admit_per_second: 0 } },
      admin,
    );
    expect(restored.body.waiting_room).toEqual({
      admit_per_second: 0,
      admission_seconds: 300,
      serving: 0,
      joined: 2,
    });
    const g2 = await api.get(`/api/products/${id}/queue`, await as("g2"));
    expect(g2.body.position).toBe(2);
    const next = await api.post(`/api/products/${id}/queue`, undefined, g3);
    expect(next.body.position).toBe(3);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("anonymous shoppers", () => {
  test("without buyer tokens configured, a join or a hold on a room's product is 401", async () => {
    const anon = await createTestContext();
    try {
      const anonApi = client(anon.app);
      const id = await roomProduct(anonApi, { admit_per_second: 10 });
      const join = await anonApi.post(`/api/products/${id}/queue`, undefined);
      expect(join.status).toBe(401);
      expect(join.body.code).toBe("unauthorized");
      const hold = await anonApi.post("/api/holds", { product_id: id, qty: 1 });
      expect(hold.status).toBe(401);
      expect(await tickets(anon.sql, id)).toEqual([]);
    } finally {
      await anon.close();
    }
  });
});
