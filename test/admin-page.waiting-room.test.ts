import { describe, expect, test } from "bun:test";
import { signIn, untilPageShows, useChromium } from "./helpers/browser";
import { HS256 } from "./helpers/buyers";
import { admin, client } from "./helpers/fixtures";
import { useServedContext } from "./helpers/harness";
import { as } from "./helpers/waiting-room";

// The operator sets, changes and removes a waiting room from the page, and watches its line
// (joined, serving, the rate) move.

describe("GET /admin in Chromium: a waiting room", () => {
  const served = useServedContext({ ...HS256, PRODUCT_CACHE_TTL_MS: "200" });
  const browser = useChromium();

  test("set a paused room, see buyers join, set a rate and see them served, remove it", async () => {
    const ctx = served();
    const api = client(ctx.baseUrl);
    const created = await api.post(
      "/api/admin/products",
      { name: "Queue sneaker", price_cents: 100, stock: 10 },
      admin,
    );
    const id = created.body.id as number;
    const page = await browser.newPage({ timezoneId: "UTC" });
    const problems = await signIn(page, ctx.baseUrl);
    const card = page.locator(`#product-${id}`);
    await card.waitFor();
    const line = () => card.locator('[data-f="waiting_room"]').textContent();
    expect(await line()).toBe("No waiting room: holds are open to every buyer.");

    await card.locator("form.room [name=admit_per_second]").fill("0");
    await card.locator("form.room button[type=submit]").click();
    await untilPageShows(line, (s) => s.includes("(paused)"), 5000);
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toEqual({
      admit_per_second: 0,
      admission_seconds: 300,
      serving: 0,
      joined: 0,
    });
    for (const buyer of ["p1", "p2"]) {
      expect((await api.post(`/api/products/${id}/queue`, undefined, await as(buyer))).status).toBe(
        201,
      );
    }
    await untilPageShows(line, (s) => s.startsWith("Waiting room: 2 joined · serving 0"), 10_000);

    await card.locator("form.room [name=admit_per_second]").fill("1000");
    await card.locator("form.room [name=admission_seconds]").fill("60");
    await card.locator("form.room button[type=submit]").click();
    await untilPageShows(line, (s) => s.includes("serving 2 ·"), 10_000);
    expect(await line()).toContain("1,000 admitted per second · 60 s each");

    await card.locator("form.room .remove-room").click();
    await untilPageShows(line, (s) => s.startsWith("No waiting room"), 5000);
    expect((await api.get(`/api/products/${id}`)).body.waiting_room).toBeNull();
    await page.close();
    expect(problems).toEqual([]);
  });
});
