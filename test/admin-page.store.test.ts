import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { useServedApp } from "./helpers/apps";
import {
  shownProblem,
  signIn,
  untilPageReads,
  untilPageShows,
  useChromium,
} from "./helpers/browser";
import { bearer, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { parseCsvStrict } from "./helpers/csv";
import { ADMIN_TOKEN, rows } from "./helpers/harness";

// The operator runs the store from the page (contract: GET /admin): a price and a stock
// correction per product, the orders found by status, product, buyer or id, one opened and
// cancelled, the CSV downloaded, the audit log read; each refusal shows its problem.

describe("GET /admin in Chromium: the store around the sale", () => {
  const { ctx, api } = useServedApp(HS256);
  const browser = useChromium();

  async function order(productId: number, buyer: string, qty = 1): Promise<number> {
    const as = bearer(await hs256({ sub: buyer }));
    const hold = await api.post("/api/holds", { product_id: productId, qty }, as);
    const made = await api.post("/api/orders", { hold_id: hold.body.hold_id }, as);
    return made.body.order_id as number;
  }

  test("price, stock correction, orders (find, open, cancel, CSV) and the audit log, refusals shown", async () => {
    const productId = await limitedProduct(api, 10, null);
    const alices = [await order(productId, "alice"), await order(productId, "alice", 2)];
    const bobs = await order(productId, "bob");
    await api.webhook({
      idempotency_key: `page-${alices[0]}`,
      order_id: alices[0],
      status: "succeeded",
    });
    // Two units held and not ordered: a correction may take away at most 10 - 4 - 2 = 4.
    const carol = bearer(await hs256({ sub: "carol" }));
    await api.post("/api/holds", { product_id: productId, qty: 2 }, carol);

    const page = await browser.newPage({
      timezoneId: "UTC",
      viewport: { width: 1440, height: 900 },
      acceptDownloads: true,
    });
    const problems = await signIn(page, ctx.baseUrl);
    const card = page.locator(`#product-${productId}`);
    await card.waitFor();

    await card.locator("form.price [name=price_cents]").fill("1500");
    await card.locator("form.price button").click();
    await untilPageReads(
      async () => String((await api.get(`/api/products/${productId}`)).body.price_cents),
      "1500",
    );

    await card.locator("form.correct [name=delta]").fill("-5");
    await card.locator("form.correct button").click();
    const refusal = await shownProblem(card);
    expect(refusal).toBe(
      `Stock in use: Product ${productId} has 6 units, 2 of them in active holds: it can lose at most 4.`,
    );
    await card.locator("form.correct [name=delta]").fill("-1");
    await card.locator("form.correct [name=note]").fill("one damaged");
    await card.locator("form.correct button").click();
    await untilPageReads(() => card.locator('[data-f="stock_available"]').textContent(), "5");
    expect(await card.locator(".problem").isVisible()).toBe(false);

    const filter = page.locator("#order-filter");
    const shownOrders = () => page.locator("#orders tbody tr td:first-child").allTextContents();
    await filter.locator("[name=buyer_id]").fill("alice");
    await filter.locator("button[type=submit]").click();
    await untilPageReads(async () => (await shownOrders()).join(","), alices.join(","));
    await filter.locator("[name=status]").selectOption("paid");
    await filter.locator("button[type=submit]").click();
    await untilPageReads(async () => (await shownOrders()).join(","), String(alices[0]));
    await filter.locator("[name=buyer_id]").fill("");
    await filter.locator("[name=status]").selectOption("");
    await filter.locator("[name=order_id]").fill(String(bobs));
    await filter.locator("button[type=submit]").click();
    await untilPageReads(async () => (await shownOrders()).join(","), String(bobs));

    // Open Bob's order and cancel it with a note.
    await page
      .locator("#orders tbody tr", { hasText: "bob" })
      .getByRole("button", { name: "Open" })
      .click();
    const detail = page.locator("#order-detail");
    await detail.waitFor();
    expect(await detail.locator("dl").textContent()).toContain("buyer_idbob");
    await detail.locator("[name=note]").fill("customer called");
    await detail.locator("#order-cancel button").click();
    await untilPageReads(() => detail.locator('[data-o="status"]').textContent(), "cancelled");
    expect(
      (await api.get(`/api/admin/orders?buyer_id=bob`, { authorization: `Bearer ${ADMIN_TOKEN}` }))
        .body.orders,
    ).toMatchObject([{ order_id: bobs, status: "cancelled" }]);

    // Alice's pending order is paid by the provider while the operator looks: the cancel is refused.
    await filter.locator("[name=order_id]").fill(String(alices[1]));
    await filter.locator("button[type=submit]").click();
    await untilPageReads(async () => (await shownOrders()).join(","), String(alices[1]));
    await api.webhook({
      idempotency_key: `page-${alices[1]}`,
      order_id: alices[1],
      status: "succeeded",
    });
    await page.locator("#orders tbody tr").getByRole("button", { name: "Cancel" }).click();
    const refused = await shownProblem(filter);
    expect(refused).toBe(
      `Order already paid: Order ${alices[1]} is paid: a refund is made at the payment provider.`,
    );

    // The CSV of the filters as they stand (here: everything).
    await filter.locator("[name=order_id]").fill("");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("#orders-csv"),
    ]);
    expect(download.suggestedFilename()).toBe("orders.csv");
    const records = parseCsvStrict(readFileSync((await download.path()) as string, "utf8"));
    expect(records.slice(1).map((r) => [Number(r[0]), r[3], r[7]])).toEqual([
      [alices[0], "alice", "paid"],
      [alices[1], "alice", "paid"],
      [bobs, "bob", "cancelled"],
    ]);

    // The audit log names each change, newest first.
    const actions = await untilPageShows(
      async () =>
        (await page.locator("#audit tbody tr td:nth-child(3)").allTextContents()).join(","),
      (s) => s.startsWith("order.cancel"),
      5000,
    );
    expect(actions).toBe("order.cancel,product.stock_correction,product.update,product.create");
    const entries = await rows<{ n: number }>(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries");
    expect(Number(entries[0]?.n)).toBe(4);
    await page.close();
    expect(problems).toEqual([]);
  });
});
