import { describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import {
  shownProblem,
  signIn,
  untilPageReads,
  untilPageShows,
  useChromium,
} from "./helpers/browser";
import { client } from "./helpers/fixtures";
import { useServedContext } from "./helpers/harness";

// The operator runs a sale from the page (contract: GET /admin): create a product with a window,
// watch its countdown open it, restock it, and see a refused action's problem.

/** A datetime-local value for `ms`, in the page's time zone (UTC, set below). */
const localInput = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe("GET /admin in Chromium: running a sale", () => {
  const served = useServedContext({ STOCK_EVENTS_INTERVAL_MS: "100" });
  const browser = useChromium();
  let page: Page;

  test("create a product opening in a few seconds, see it open, restock it, see a refusal", async () => {
    const ctx = served();
    page = await browser.newPage({ timezoneId: "UTC", viewport: { width: 1440, height: 900 } });
    const problems = await signIn(page, ctx.baseUrl);

    const create = page.locator("#create");
    await create.locator("[name=name]").fill("Countdown sneaker");
    await create.locator("[name=price_cents]").fill("4900");
    await create.locator("[name=stock]").fill("5");
    await create.locator("[name=max_per_buyer]").fill("2");
    // Whole seconds: a datetime-local input keeps no milliseconds.
    const opensAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    await create.locator("[name=sale_starts_at]").fill(localInput(opensAt));
    await create.locator("button[type=submit]").click();

    const card = page.locator("article.product", { hasText: "Countdown sneaker" });
    await card.waitFor();
    const id = Number((await card.getAttribute("id"))?.replace("product-", ""));
    const product = await client(ctx.baseUrl).get(`/api/products/${id}`);
    expect(product.body).toMatchObject({
      name: "Countdown sneaker",
      price_cents: 4900,
      stock_available: 5,
      max_per_buyer: 2,
      sale_starts_at: new Date(opensAt).toISOString(),
      sale_state: "upcoming",
    });
    expect(await card.locator(".id").textContent()).toContain("max 2 per buyer");
    expect(await card.locator('[data-f="sale_state"]').textContent()).toBe("upcoming");
    expect(await card.locator(".countdown").textContent()).toMatch(/^opens in 0:0[0-5]$/);

    // The countdown runs out and the service's state turns live, with no reload.
    await untilPageReads(() => card.locator('[data-f="sale_state"]').textContent(), "live", 15_000);
    expect(await card.locator(".countdown").textContent()).toBe("open, no end set");

    await card.locator("form.restock [name=qty]").fill("10");
    await card.locator("form.restock button").click();
    await untilPageReads(() => card.locator('[data-f="stock_available"]').textContent(), "15");

    // A window that ends before it opens: the service refuses, the page says why.
    await card.locator("form.edit [name=sale_ends_at]").fill(localInput(opensAt - 60_000));
    await card.locator("form.edit button").click();
    const refusal = await shownProblem(card);
    expect(refusal).toBe(
      "Validation failed: The sale must end after it starts. (sale_ends_at: must be after sale_starts_at)",
    );
    expect(await card.locator(".problem").isVisible()).toBe(true);
    expect((await client(ctx.baseUrl).get(`/api/products/${id}`)).body.sale_ends_at).toBeNull();

    // The limit changes from the same form.
    await card.locator("form.edit [name=sale_ends_at]").fill("");
    await card.locator("form.edit [name=max_per_buyer]").fill("3");
    await card.locator("form.edit button").click();
    await untilPageShows(
      () => card.locator(".id").textContent(),
      (s) => s.includes("max 3 per buyer"),
      5000,
    );
    expect(await card.locator(".problem").isVisible()).toBe(false);
    await page.close();
    expect(problems).toEqual([]);
  });
});
