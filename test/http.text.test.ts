import { describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { admin, createProduct, webhookHeaders } from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";
import { event, pendingOrder } from "./helpers/payments";

// Text in requests: a string that is not well-formed Unicode (a lone UTF-16 surrogate, which
// the database would store as U+FFFD, making different strings one) is a 422 wherever it
// appears, and a timestamp without a zone is a 422 that says the zone is missing.

const { ctx, api } = useTestApp();

const loneSurrogates = ["key-\ud800", "key-\udbff", "key-\udfff"];

function expectNotWellFormed(
  reply: { status: number; body: Record<string, unknown> },
  path: string,
) {
  expect(reply.status).toBe(422);
  expect(reply.body.code).toBe("validation_failed");
  expect(reply.body.errors).toContainEqual({
    path,
    message: "must be well-formed Unicode (no lone surrogate)",
  });
}

describe("a string that is not well-formed Unicode is a 422", () => {
  test("three webhook idempotency keys with lone surrogates: each 422, none stored", async () => {
    const { orderId } = await pendingOrder(api);
    for (const key of loneSurrogates) {
      expectNotWellFormed(await api.webhook(event(orderId, "succeeded", key)), "idempotency_key");
    }
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events")).toBe(0);
    // A well-formed key beyond the BMP (a surrogate pair) is accepted and kept byte for byte.
    const pair = "key-\u{1F45F}";
    expect((await api.webhook(event(orderId, "succeeded", pair))).status).toBe(200);
    const [stored] = await rows<{ key: string }>(
      ctx.sql,
      "SELECT CAST(idempotency_key AS CHAR) AS `key` FROM payment_events",
    );
    expect(stored?.key).toBe(pair);
  });

  test("a conflict resolved with a note holding a lone surrogate: 422, still open", async () => {
    const { orderId } = await pendingOrder(api);
    expect((await api.webhook(event(orderId, "succeeded"))).status).toBe(200);
    expect((await api.webhook(event(orderId, "failed"))).body.conflict).toBe(true);
    const [conflict] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM payment_events WHERE outcome = 'conflict' AND order_id = ?",
      [orderId],
    );
    const resolve = (note: string) =>
      api.post(
        `/api/admin/payment-conflicts/${conflict?.id}/resolve`,
        { resolution: "refunded", note },
        admin,
      );
    expectNotWellFormed(await resolve("refund \ud83d"), "note");
    expect(
      await count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM payment_events WHERE id = ? AND resolved_at IS NOT NULL",
        [conflict?.id],
      ),
    ).toBe(0);
    expect((await resolve("refund \u{1F4B8}")).status).toBe(200);
  });

  test("a product name holding a lone surrogate: 422 on create and on PATCH, nothing stored", async () => {
    const products = await count(ctx.sql, "SELECT COUNT(*) AS n FROM products");
    const created = await api.post(
      "/api/admin/products",
      { name: "Sneaker \udc00", price_cents: 100, stock: 1 },
      admin,
    );
    expectNotWellFormed(created, "name");
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM products")).toBe(products);
    const productId = await createProduct(api, 1);
    expectNotWellFormed(
      await api.patch(`/api/admin/products/${productId}`, { name: "\ud800Sneaker" }, admin),
      "name",
    );
    const [row] = await rows<{ name: string }>(ctx.sql, "SELECT name FROM products WHERE id = ?", [
      productId,
    ]);
    expect(row?.name).toBe("Limited sneaker");
  });
});

describe("bytes that are not UTF-8 inside a JSON string are a 400, not a U+FFFD stored", () => {
  /** `json` with its `@@` as one byte that UTF-8 never has (0xFF or 0xFE). */
  const withByte = (json: string, byte: number) => {
    const [head, tail] = json.split("@@") as [string, string];
    return Buffer.concat([Buffer.from(head), Buffer.from([byte]), Buffer.from(tail)]);
  };

  test("two webhook keys differing only in such a byte: each 400 malformed_json, none stored", async () => {
    const { orderId } = await pendingOrder(api);
    const events = await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events");
    const template = JSON.stringify(event(orderId, "failed", "col@@"));
    for (const byte of [0xff, 0xfe]) {
      const body = withByte(template, byte);
      // Signed as the provider's library signs (its text), so the signature passes.
      const reply = await api.raw("/api/payments/webhook", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...webhookHeaders(body.toString("utf8")),
        },
        body,
      });
      expect(reply.status).toBe(400);
      expect(((await reply.json()) as { code: string }).code).toBe("malformed_json");
    }
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events")).toBe(events);
  });

  test("a product name with such a byte: 400, no product; U+FFFD itself, well encoded, is kept", async () => {
    const products = await count(ctx.sql, "SELECT COUNT(*) AS n FROM products");
    const template = JSON.stringify({ name: "a@@b", price_cents: 100, stock: 1 });
    const refused = await api.raw("/api/admin/products", {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: withByte(template, 0xff),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe("malformed_json");
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM products")).toBe(products);

    const kept = await api.post(
      "/api/admin/products",
      { name: "a\ufffdb", price_cents: 100, stock: 1 },
      admin,
    );
    expect(kept.status).toBe(201);
    expect(kept.body.name).toBe("a\ufffdb");
  });
});

describe("a timestamp without a zone", () => {
  test("2026-12-07T14:00:00 is a 422 that says the zone (Z or an offset) is missing, on create and on PATCH", async () => {
    const zoneMissing = {
      path: "sale_starts_at",
      message: "the zone is missing: end the timestamp with Z or an offset such as +01:00",
    };
    const created = await api.post(
      "/api/admin/products",
      { name: "Timed", price_cents: 100, stock: 1, sale_starts_at: "2026-12-07T14:00:00" },
      admin,
    );
    expect(created.status).toBe(422);
    expect(created.body).toMatchObject({ code: "validation_failed", errors: [zoneMissing] });
    const productId = await createProduct(api, 1);
    const patched = await api.patch(
      `/api/admin/products/${productId}`,
      { sale_starts_at: "2026-12-07T14:00:00.000" },
      admin,
    );
    expect(patched.status).toBe(422);
    expect(patched.body).toMatchObject({ code: "validation_failed", errors: [zoneMissing] });
    // Something that is no timestamp at all is told what one looks like.
    const garbage = await api.patch(
      `/api/admin/products/${productId}`,
      { sale_ends_at: "soon" },
      admin,
    );
    expect(garbage.body.errors).toEqual([
      {
        path: "sale_ends_at",
        message:
          "must be an ISO 8601 timestamp with a zone (Z or an offset), e.g. 2026-12-07T14:00:00Z",
      },
    ]);
  });
});
