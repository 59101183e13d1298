import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type Client,
  client,
  createHold,
  createOrder,
  createProduct,
  webhookHeaders,
} from "./helpers/fixtures";
import { createTestContext, rows, type TestContext } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { event, OTHER_SECRET, SECRET } from "./helpers/payments";

describe("signatures", () => {
  let signed: TestContext;
  let signedApi: Client;

  beforeAll(async () => {
    signed = await createTestContext({ WEBHOOK_SECRET: SECRET });
    signedApi = client(signed.app);
  });
  afterAll(() => signed.close());
  /** `body` posted with its Standard Webhooks headers, signed with `secret` at `at` (now). */
  const postSigned = (body: string, secret: string, id: string, at?: Date) =>
    signedApi.post("/api/payments/webhook", body, webhookHeaders(body, secret, id, at));

  test("a valid signature is accepted", async () => {
    const body = JSON.stringify(event(424242, "succeeded"));
    const res = await postSigned(body, SECRET, "msg_1");
    expect(res.status).toBe(202);
  });

  test("a missing signature is 401 invalid_signature", async () => {
    const res = await signedApi.post("/api/payments/webhook", event(1, "succeeded"));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ type: "about:blank", code: "invalid_signature", status: 401 });
  });

  test("a signature with the wrong secret is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const res = await postSigned(body, OTHER_SECRET, "msg_2");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_signature");
  });

  test("a stale timestamp (over five minutes) is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const stale = new Date(Date.now() - 6 * 60 * 1000);
    const res = await postSigned(body, SECRET, "msg_3", stale);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_signature");
  });

  test("a body changed after signing is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const headers = webhookHeaders(body, SECRET, "msg_4");
    const res = await signedApi.post(
      "/api/payments/webhook",
      body.replace("succeeded", "failed"),
      headers,
    );
    expect(res.status).toBe(401);
  });
});

async function refusedWithoutTrace(
  target: TestContext,
  headers: (body: string) => Record<string, string>,
) {
  const shop = client(target.app);
  const productId = await createProduct(shop, 10);
  const pending = await createOrder(shop, await createHold(shop, productId, 2));
  const [row] = await rows<{ next: number }>(
    target.sql,
    "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM orders",
  );
  const unborn = Number(row?.next);
  for (const orderId of [pending, unborn]) {
    const body = JSON.stringify(event(orderId, "succeeded"));
    const res = await shop.post("/api/payments/webhook", body, headers(body));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ type: "about:blank", code: "invalid_signature", status: 401 });
  }
  expect(await rows(target.sql, "SELECT id FROM payment_events")).toEqual([]);
  expect((await shop.get(`/api/orders/${pending}`)).body.status).toBe("pending");
  // The id the refused event named: the order is born pending, not paid.
  const born = await createOrder(shop, await createHold(shop, productId, 1));
  expect(born).toBe(unborn);
  expect((await shop.get(`/api/orders/${born}`)).body.status).toBe("pending");
  expect(await invariantViolations(target.sql)).toEqual([]);
}

describe("fail closed", () => {
  test("no WEBHOOK_SECRET: unsigned webhooks are 401 and store nothing, no order is born paid", async () => {
    const open = await createTestContext({ WEBHOOK_SECRET: "" });
    try {
      await refusedWithoutTrace(open, () => ({}));
    } finally {
      await open.close();
    }
  });

  test("no WEBHOOK_SECRET: a webhook signed with some secret is refused too", async () => {
    const open = await createTestContext({ WEBHOOK_SECRET: "" });
    try {
      await refusedWithoutTrace(open, (body) => webhookHeaders(body, SECRET));
    } finally {
      await open.close();
    }
  });

  test("with a WEBHOOK_SECRET: unsigned and wrongly signed webhooks store nothing", async () => {
    const guarded = await createTestContext({ WEBHOOK_SECRET: SECRET });
    try {
      await refusedWithoutTrace(guarded, () => ({}));
      await refusedWithoutTrace(guarded, (body) => webhookHeaders(body, OTHER_SECRET));
    } finally {
      await guarded.close();
    }
  });

  test.each([
    ["1", 401],
    ["TRUE", 401],
    ["yes", 401],
    ["true", 200],
  ] as const)(
    "WEBHOOK_ALLOW_UNSIGNED=%s with no secret → an unsigned webhook gets %i",
    async (value, status) => {
      const dev = await createTestContext({ WEBHOOK_SECRET: "", WEBHOOK_ALLOW_UNSIGNED: value });
      try {
        const shop = client(dev.app);
        const orderId = await createOrder(
          shop,
          await createHold(shop, await createProduct(shop, 5), 1),
        );
        const res = await shop.post("/api/payments/webhook", event(orderId, "succeeded"));
        expect(res.status).toBe(status);
        expect((await shop.get(`/api/orders/${orderId}`)).body.status).toBe(
          status === 200 ? "paid" : "pending",
        );
      } finally {
        await dev.close();
      }
    },
  );
});
