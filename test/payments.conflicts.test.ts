import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { ISO_MS } from "./helpers/clock";
import { expectProblem } from "./helpers/contract";
import { admin, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { pay as payOrder } from "./helpers/payments";

// POST /api/admin/payment-conflicts/:id/resolve and ?state=: a refund is made once.

const { ctx, api } = useServedApp();

let keys = 0;

/** A paid order and a later `failed` event for it: one conflict; its id. */
async function conflict(): Promise<{ id: number; orderId: number; key: string }> {
  const productId = await createProduct(api, 10);
  const orderId = await createOrder(api, await createHold(api, productId, 1));
  const pay = (key: string, status: "succeeded" | "failed") => payOrder(api, orderId, status, key);
  await pay(`ok-${++keys}`, "succeeded");
  const key = `late-${++keys}`;
  expect((await pay(key, "failed")).body.conflict).toBe(true);
  const [row] = await rows<{ id: number }>(
    ctx.sql,
    "SELECT id FROM payment_events WHERE idempotency_key = ?",
    [key],
  );
  return { id: Number(row?.id), orderId, key };
}

const resolve = (id: number, body: unknown) =>
  api.post(`/api/admin/payment-conflicts/${id}/resolve`, body, admin);
const listed = async (query: string) =>
  (
    (await api.get(`/api/admin/payment-conflicts?limit=1000${query}`, admin)).body.conflicts as {
      id: number;
    }[]
  ).map((c) => c.id);

describe("the conflicts list", () => {
  test("a conflict after a redelivered event is listed at once: the redelivery took no id", async () => {
    const productId = await createProduct(api, 10);
    const orderId = await createOrder(api, await createHold(api, productId, 1));
    const paid = `paid-${++keys}`;
    expect((await payOrder(api, orderId, "succeeded", paid)).body.applied).toBe(true);
    expect((await payOrder(api, orderId, "succeeded", paid)).body.duplicate).toBe(true);
    const late = `late-${++keys}`;
    expect((await payOrder(api, orderId, "failed", late)).body.conflict).toBe(true);
    const [row] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM payment_events WHERE idempotency_key = ?",
      [late],
    );
    // A gap below a fresh row holds the feed back for seconds (db/keyset.ts); there is none.
    expect(await listed("")).toContain(Number(row?.id));
  });
});

describe("resolving a conflict", () => {
  test("once: 200 with the conflict resolved; the same body again changes nothing; it leaves the open list", async () => {
    const { id, orderId, key } = await conflict();
    expect(await listed("")).toContain(id);
    const first = await resolve(id, { resolution: "refunded", note: "refund 4711" });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      id,
      idempotency_key: key,
      order_id: orderId,
      status: "failed",
      order_status: "paid",
      received_at: expect.stringMatching(ISO_MS),
      resolved_at: expect.stringMatching(ISO_MS),
      resolution: "refunded",
    });
    const again = await resolve(id, { resolution: "refunded", note: "refund 4711" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await listed("")).not.toContain(id);
    expect(await listed("&state=open")).not.toContain(id);
    expect(await listed("&state=all")).toContain(id);
    const [stored] = await rows<{ resolution: string; resolution_note: string }>(
      ctx.sql,
      "SELECT resolution, resolution_note FROM payment_events WHERE id = ?",
      [id],
    );
    expect(stored).toEqual({ resolution: "refunded", resolution_note: "refund 4711" });
  });

  test("another resolution, or another note, is a 409 conflict_already_resolved with the conflict, and changes nothing", async () => {
    const { id } = await conflict();
    const first = await resolve(id, { resolution: "ignored" });
    expect(first.status).toBe(200);
    for (const body of [
      { resolution: "refunded" },
      { resolution: "ignored", note: "changed my mind" },
    ]) {
      const refused = await resolve(id, body);
      expectProblem(refused, 409, {
        title: "Conflict already resolved",
        code: "conflict_already_resolved",
        detail: `Payment conflict ${id} was already resolved as ignored.`,
        conflict: first.body,
      });
    }
    // No note and a null note are the same body.
    expect((await resolve(id, { resolution: "ignored", note: null })).body).toEqual(first.body);
  });

  test("twenty concurrent resolutions, two answers: one wins, its copies get 200, the others 409", async () => {
    const { id } = await conflict();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        resolve(id, { resolution: i % 2 ? "refunded" : "ignored" }),
      ),
    );
    const won = replies.find((r) => r.status === 200)?.body.resolution;
    expect(["refunded", "ignored"]).toContain(won as string);
    for (const [i, reply] of replies.entries()) {
      const mine = i % 2 ? "refunded" : "ignored";
      expect(reply.status).toBe(mine === won ? 200 : 409);
    }
  });

  test("the payment.conflict event carries the conflict as it was, unresolved", async () => {
    const { id, orderId } = await conflict();
    await resolve(id, { resolution: "refunded" });
    const [event] = await rows<{ data: string }>(
      ctx.sql,
      "SELECT data FROM merchant_events WHERE type = 'payment.conflict' AND order_id = ?",
      [orderId],
    );
    expect(JSON.parse(String(event?.data))).toMatchObject({
      id,
      order_id: orderId,
      resolved_at: null,
      resolution: null,
    });
  });
});

describe("refused", () => {
  test("an unknown conflict: 404 conflict_not_found", async () => {
    const reply = await resolve(999_999, { resolution: "refunded" });
    expectProblem(reply, 404, {
      title: "Conflict not found",
      code: "conflict_not_found",
      detail: "Payment conflict 999999 does not exist.",
    });
  });

  test("a payment event that is no conflict: 404, and it stays as it was", async () => {
    await conflict();
    const [applied] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM payment_events WHERE outcome = 'applied' LIMIT 1",
    );
    const id = Number(applied?.id);
    expect((await resolve(id, { resolution: "refunded" })).body.code).toBe("conflict_not_found");
    const [after] = await rows<{ resolved_at: Date | null }>(
      ctx.sql,
      "SELECT resolved_at FROM payment_events WHERE id = ?",
      [id],
    );
    expect(after?.resolved_at).toBeNull();
  });

  test("bad bodies and queries: 422 validation_failed; no token: 401", async () => {
    const { id } = await conflict();
    for (const body of [
      {},
      { resolution: "refund" },
      { resolution: "refunded", note: 5 },
      { resolution: "refunded", note: "x".repeat(1001) },
      { resolution: "refunded", extra: true },
    ]) {
      const reply = await resolve(id, body);
      expect(reply.status, JSON.stringify(body)).toBe(422);
      expect(reply.body.code).toBe("validation_failed");
    }
    const badState = await api.get("/api/admin/payment-conflicts?state=closed", admin);
    expect(badState.status).toBe(422);
    const badDelivery = await api.get("/api/admin/events?delivery=lost", admin);
    expect(badDelivery.status).toBe(422);
    const anonymous = await api.post(`/api/admin/payment-conflicts/${id}/resolve`, {
      resolution: "refunded",
    });
    expect(anonymous.status).toBe(401);
    expect(await listed("")).toContain(id);
  });
});
