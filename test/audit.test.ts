import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { ISO_MS } from "./helpers/clock";
import { admin, createHold, createOrder, createProduct, type Reply } from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";

// GET /api/admin/audit: each admin change has one entry, written in its own transaction, with
// the request id its answer carried; a refusal or a change that changed nothing has none.

const { ctx, api } = useServedApp();

type Entry = {
  id: number;
  at: string;
  action: string;
  target: string;
  request_id: string;
  client_ip: string | null;
  changes: Record<string, [unknown, unknown]>;
  note: string | null;
};

async function allEntries(): Promise<Entry[]> {
  const entries: Entry[] = [];
  let after = 0;
  for (;;) {
    const page = await api.get(`/api/admin/audit?limit=2&after_id=${after}`, admin);
    expect(page.status).toBe(200);
    entries.push(...(page.body.entries as Entry[]));
    if (page.body.next_after_id === null) return entries;
    after = page.body.next_after_id as number;
  }
}

const entryCount = () => count(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries");

/** The one entry the answer's request id names. */
async function entryOf(answer: Reply): Promise<Entry> {
  const requestId = answer.headers.get("x-request-id");
  const found = (await allEntries()).filter((e) => e.request_id === requestId);
  expect(found).toHaveLength(1);
  return found[0] as Entry;
}

describe("entries for every admin change", () => {
  test("create, PATCH, restock, correction: one entry each, with the answer's request id, the client's address and the fields before and after", async () => {
    const created = await api.post(
      "/api/admin/products",
      { name: "Audit sneaker", price_cents: 1000, stock: 5, max_per_buyer: 2 },
      admin,
    );
    const id = created.body.id as number;
    expect(await entryOf(created)).toEqual({
      id: expect.any(Number),
      at: expect.stringMatching(ISO_MS),
      action: "product.create",
      target: `product:${id}`,
      request_id: created.headers.get("x-request-id") as string,
      client_ip: "127.0.0.1",
      changes: {
        name: [null, "Audit sneaker"],
        price_cents: [null, 1000],
        stock_available: [null, 5],
        max_per_buyer: [null, 2],
      },
      note: null,
    });

    const patched = await api.patch(
      `/api/admin/products/${id}`,
      { price_cents: 1200, name: "Audit sneaker", sale_ends_at: "2099-01-01T00:00:00.000Z" },
      { ...admin, "x-request-id": "operator-patch-1" },
    );
    expect(patched.headers.get("x-request-id")).toBe("operator-patch-1");
    expect((await entryOf(patched)).changes).toEqual({
      price_cents: [1000, 1200],
      sale_ends_at: [null, "2099-01-01T00:00:00.000Z"],
    });

    const restocked = await api.post(`/api/admin/products/${id}/restock`, { qty: 3 }, admin);
    expect(await entryOf(restocked)).toMatchObject({
      action: "product.restock",
      target: `product:${id}`,
      changes: { stock_available: [5, 8] },
      note: null,
    });

    const corrected = await api.post(
      `/api/admin/products/${id}/stock-corrections`,
      { delta: -2, note: "two damaged" },
      admin,
    );
    expect(await entryOf(corrected)).toMatchObject({
      action: "product.stock_correction",
      changes: { stock_available: [8, 6] },
      note: "two damaged",
    });
  });

  test("a conflict resolved and an event redelivered: one entry each", async () => {
    const productId = await createProduct(api, 10);
    const orderId = await createOrder(api, await createHold(api, productId, 1));
    await api.webhook({
      idempotency_key: `audit-ok-${orderId}`,
      order_id: orderId,
      status: "succeeded",
    });
    await api.webhook({
      idempotency_key: `audit-late-${orderId}`,
      order_id: orderId,
      status: "failed",
    });
    const [conflict] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM payment_events WHERE outcome = 'conflict' AND order_id = ?",
      [orderId],
    );
    const conflictId = Number(conflict?.id);
    const resolved = await api.post(
      `/api/admin/payment-conflicts/${conflictId}/resolve`,
      { resolution: "refunded", note: "refund 4711" },
      admin,
    );
    expect(await entryOf(resolved)).toMatchObject({
      action: "conflict.resolve",
      target: `conflict:${conflictId}`,
      changes: { resolution: [null, "refunded"] },
      note: "refund 4711",
    });
    const before = await entryCount();
    // The same resolution again is a 200 that changed nothing: no entry.
    const again = await api.post(
      `/api/admin/payment-conflicts/${conflictId}/resolve`,
      { resolution: "refunded", note: "refund 4711" },
      admin,
    );
    expect(again.status).toBe(200);
    expect(await entryCount()).toBe(before);

    const [event] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM merchant_events WHERE order_id = ? ORDER BY id LIMIT 1",
      [orderId],
    );
    const eventId = Number(event?.id);
    await ctx.sql.query(
      "UPDATE merchant_events SET delivery_status = 'failed', attempts = 12 WHERE id = ?",
      [eventId],
    );
    // The route takes no body, so one sent, even one that is not JSON, is ignored.
    const redelivered = await api.post(
      `/api/admin/events/${eventId}/redeliver`,
      "{not json",
      admin,
    );
    expect(redelivered.status).toBe(202);
    expect(await entryOf(redelivered)).toMatchObject({
      action: "event.redeliver",
      target: `event:${eventId}`,
      changes: { delivery_status: ["failed", "pending"], attempts: [12, 0] },
    });
  });
});

describe("no entry for a refusal or a no-op", () => {
  test("404, 409 stock_in_use, 422, 401 and a PATCH that changes nothing: no entry", async () => {
    const productId = await createProduct(api, 4);
    await createHold(api, productId, 3);
    const before = await entryCount();
    const refusals = await Promise.all([
      api.post(`/api/admin/products/${productId}/stock-corrections`, { delta: -2 }, admin),
      api.post("/api/admin/products/999999/stock-corrections", { delta: 1 }, admin),
      api.post("/api/admin/products/999999/restock", { qty: 1 }, admin),
      api.patch("/api/admin/products/999999", { price_cents: 5 }, admin),
      api.patch(
        `/api/admin/products/${productId}`,
        { sale_starts_at: "2099-01-02T00:00:00Z", sale_ends_at: "2099-01-01T00:00:00Z" },
        admin,
      ),
      api.post(`/api/admin/products/${productId}/restock`, { qty: 0 }, admin),
      api.post(`/api/admin/products/${productId}/stock-corrections`, { delta: 1 }),
      api.post("/api/admin/events/999999/redeliver", {}, admin),
      api.post("/api/admin/payment-conflicts/999999/resolve", { resolution: "ignored" }, admin),
    ]);
    expect(refusals.map((r) => r.status)).toEqual([409, 404, 404, 404, 422, 422, 401, 404, 404]);
    const noop = await api.patch(
      `/api/admin/products/${productId}`,
      { name: "Limited sneaker" },
      admin,
    );
    expect(noop.status).toBe(200);
    expect(await entryCount()).toBe(before);
  });

  test("bad paging is a 422; without the token a 401", async () => {
    expect((await api.get("/api/admin/audit?limit=0", admin)).status).toBe(422);
    expect((await api.get("/api/admin/audit?after_id=-1", admin)).status).toBe(422);
    const refused = await api.get("/api/admin/audit");
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("unauthorized");
  });
});
