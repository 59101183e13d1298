import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signIn, untilPageReads, untilPageShows, useChromium } from "./helpers/browser";
import { client, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { ADMIN_TOKEN, rows, useServedContext } from "./helpers/harness";
import { pay } from "./helpers/payments";

// The operator's page in a real browser: Debian's Chromium driven by playwright-core.

// docs/api.md's picture is replaced only when asked for, so that a test run leaves the tree clean.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(import.meta.dir, "..", "docs", "admin-page.png")
  : join(tmpdir(), `flash-sale-admin-page-${process.pid}.png`);

describe("GET /admin in Chromium", () => {
  const served = useServedContext({ STOCK_EVENTS_INTERVAL_MS: "100" });
  const browser = useChromium();

  afterAll(async () => {
    if (!process.env.UPDATE_SCREENSHOT) rmSync(SCREENSHOT, { force: true });
  });

  test("token in, every product and the conflict shown, a hold appears by itself", async () => {
    const ctx = served();
    const api = client(ctx.baseUrl);
    const hot = await createProduct(api, 500);
    const calm = await createProduct(api, 80);
    for (let i = 0; i < 6; i++) await createHold(api, hot, 5);
    const paid = await createOrder(api, await createHold(api, hot, 3));
    await pay(api, paid, "succeeded", "evt-paid");
    await pay(api, paid, "failed", "evt-late-failure");

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(`script error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("requestfailed", (request) => {
      // A live stock stream cut when the page closes is not a failure.
      if (!request.url().includes("/events")) problems.push(`failed: ${request.url()}`);
    });
    const foreign: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(ctx.baseUrl)) foreign.push(request.url());
    });

    await page.goto(`${ctx.baseUrl}/admin`);
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector(`#product-${hot}`);
    await page.waitForSelector(`#product-${calm}`);
    const hotCard = page.locator(`#product-${hot}`);
    await expect(hotCard.locator('[data-f="available"]').textContent()).resolves.toBe("467");
    await expect(hotCard.locator('[data-f="units_paid"]').textContent()).resolves.toBe("3");
    await expect(page.locator("#conflicts tbody").textContent()).resolves.toContain(
      "evt-late-failure",
    );
    await expect(page.locator("#conflict-count").textContent()).resolves.toBe("1");

    // A hold made through the API shows on the page within 3 s, with no reload.
    await createHold(api, hot, 7);
    await untilPageReads(() => hotCard.locator('[data-f="available"]').textContent(), "460", 3000);
    // A few seconds of sale for the chart, then the picture docs/api.md shows.
    for (let second = 0; second < 4; second++) {
      await Promise.all(Array.from({ length: 10 * (second + 1) }, () => createHold(api, hot, 1)));
      await page.waitForTimeout(1000);
    }
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const stored = (await page.evaluate(
      "({ local: JSON.stringify(localStorage), cookies: document.cookie, session: sessionStorage.length })",
    )) as { local: string; cookies: string; session: number };
    expect(stored.local).not.toContain(ADMIN_TOKEN);
    expect(stored.cookies).not.toContain(ADMIN_TOKEN);
    expect(stored.session).toBe(1);
    expect((await page.context().cookies()).length).toBe(0);
    await page.close();
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });

  test("a conflict marked refunded or ignored, a refusal shown with its title and detail, a failed event redelivered", async () => {
    const ctx = served();
    const api = client(ctx.baseUrl);
    const productId = await createProduct(api, 50);
    const orders = [];
    for (let i = 0; i < 3; i++)
      orders.push(await createOrder(api, await createHold(api, productId, 1)));
    const conflicts: number[] = [];
    for (const [i, orderId] of orders.entries()) {
      await api.webhook({
        idempotency_key: `ok-${orderId}`,
        order_id: orderId,
        status: "succeeded",
      });
      const late = await api.webhook({
        idempotency_key: `late-${orderId}-${i}`,
        order_id: orderId,
        status: "failed",
      });
      expect(late.body.conflict).toBe(true);
      const [row] = await rows<{ id: number }>(
        ctx.sql,
        "SELECT id FROM payment_events WHERE idempotency_key = ?",
        [`late-${orderId}-${i}`],
      );
      conflicts.push(Number(row?.id));
    }
    // No merchant URL in this suite: the state a receiver's refusals leave, written directly.
    const [created] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM merchant_events WHERE order_id = ? AND type = 'order.created'",
      [orders[0]],
    );
    const failedId = Number(created?.id);
    await ctx.sql.query(
      "UPDATE merchant_events SET delivery_status = 'failed', attempts = 12, last_error = 'HTTP 500' WHERE id = ?",
      [failedId],
    );

    const page = await browser.newPage();
    const problems = await signIn(page, ctx.baseUrl);
    const conflictRow = (id: number) =>
      page
        .locator("#conflicts tbody tr", { hasText: `late-` })
        .filter({ has: page.locator(`td:first-child:text-is("${id}")`) });
    await conflictRow(conflicts[0] as number).waitFor();

    await conflictRow(conflicts[0] as number)
      .getByRole("button", { name: "Refunded" })
      .click();
    await conflictRow(conflicts[0] as number).waitFor({ state: "detached" });
    await conflictRow(conflicts[1] as number)
      .getByRole("button", { name: "Ignore" })
      .click();
    await conflictRow(conflicts[1] as number).waitFor({ state: "detached" });
    const resolved = await rows<{ id: number; resolution: string | null }>(
      ctx.sql,
      "SELECT id, resolution FROM payment_events WHERE id IN (?) ORDER BY id",
      [conflicts],
    );
    expect(resolved.map((r) => r.resolution)).toEqual(["refunded", "ignored", null]);

    // Another operator ignores the third conflict while this page still shows it open: the
    // page's "Refunded" is refused, and the page says why.
    const third = conflicts[2] as number;
    await page.route(`**/api/admin/payment-conflicts/${third}/resolve`, async (route) => {
      await api.post(
        `/api/admin/payment-conflicts/${third}/resolve`,
        { resolution: "ignored" },
        { authorization: `Bearer ${ADMIN_TOKEN}` },
      );
      await route.continue();
    });
    await conflictRow(third).getByRole("button", { name: "Refunded" }).click();
    await untilPageShows(
      () => page.locator("#action-refusal").textContent(),
      (seen) =>
        seen ===
        `Conflict already resolved: Payment conflict ${third} was already resolved as ignored.`,
      5000,
    );
    expect(await page.isVisible("#action-refusal")).toBe(true);

    const failedRow = page.locator("#failed-events tbody tr", { hasText: "order.created" });
    await expect(failedRow.textContent()).resolves.toContain("HTTP 500");
    await failedRow.getByRole("button", { name: "Redeliver" }).click();
    await failedRow.waitFor({ state: "detached" });
    const [after] = await rows<{ delivery_status: string; attempts: number }>(
      ctx.sql,
      "SELECT delivery_status, attempts FROM merchant_events WHERE id = ?",
      [failedId],
    );
    expect(after).toEqual({ delivery_status: "pending", attempts: 0 });
    await page.close();
    expect(problems).toEqual([]);
  });

  test("a wrong token is refused and not kept", async () => {
    const ctx = served();
    const page = await browser.newPage();
    await page.goto(`${ctx.baseUrl}/admin`);
    await page.fill("#token", "not-the-admin-token");
    await page.click("button[type=submit]");
    await untilPageReads(
      () => page.locator("#status").textContent(),
      "That token was refused.",
      3000,
    );
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    expect(await page.isVisible("#sign-in")).toBe(true);
    await page.close();
  });
});
