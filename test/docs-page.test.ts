import { describe, expect, test } from "bun:test";
import { useChromium } from "./helpers/browser";
import { useServedContext } from "./helpers/harness";

// GET /docs in a real browser: the API reference renders from this service alone, without the
// buttons of Scalar's cloud services.

describe("GET /docs in Chromium", () => {
  const served = useServedContext();
  const browser = useChromium();

  test("renders the operations with no request leaving the machine", async () => {
    const { baseUrl } = served();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign: string[] = [];
    const failed: string[] = [];
    page.on("request", (request) => {
      const url = request.url();
      if (!url.startsWith(baseUrl) && !url.startsWith("data:") && !url.startsWith("blob:")) {
        foreign.push(url);
      }
    });
    page.on("requestfailed", (request) => failed.push(request.url()));
    await page.goto(`${baseUrl}/docs`, { waitUntil: "networkidle" });
    // Operation summaries from /openapi.json, drawn by the bundle this service served.
    await page.getByText("Reserve units for HOLD_TTL_SECONDS").first().waitFor({ timeout: 15_000 });
    await page.getByText("Turn a hold into a pending order").first().waitFor();
    await page.close();
    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
  });

  test("shows none of Scalar's cloud buttons; its own client sends to this service only", async () => {
    const { baseUrl } = served();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const sent: string[] = [];
    page.on("request", (request) => sent.push(request.url()));
    await page.goto(`${baseUrl}/docs`, { waitUntil: "networkidle" });
    await page.getByText("Turn a hold into a pending order").first().waitFor({ timeout: 15_000 });
    const shown = (await page.locator("body").textContent()) ?? "";
    // Each needs a Scalar service: its AI agent, its MCP generator, its developer tools
    // (configure, share, deploy) and its hosted client at client.scalar.com.
    for (const cloud of [
      "Ask AI",
      "Generate MCP",
      "Developer Tools",
      "Configure",
      "Share",
      "Deploy",
      "Open API Client",
    ]) {
      expect(`${cloud}: ${shown.includes(cloud)}`).toBe(`${cloud}: false`);
    }
    expect(shown).toContain("MIT");
    expect(shown).not.toContain("Proprietary");
    // Every link stays on this service, but for Scalar's "Powered by" credit.
    const links = await page
      .locator("a[href]")
      .evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute("href") ?? ""));
    const away = links.filter(
      (href) =>
        /^[a-z]+:/i.test(href) && !href.startsWith(baseUrl) && href !== "https://www.scalar.com",
    );
    expect(away).toEqual([]);
    // The page's own request form (Test Request, Send) asks this service, through no proxy.
    await page
      .getByRole("button", { name: "Test Request (get /api/products/{id})" })
      .first()
      .click();
    await page.getByRole("button", { name: "Send" }).first().click();
    await page.getByText("Product 42 does not exist.").first().waitFor({ timeout: 15_000 });
    await page.close();
    expect(sent).toContain(`${baseUrl}/api/products/42`);
    expect(sent.filter((url) => !url.startsWith(baseUrl) && !/^(data|blob):/.test(url))).toEqual(
      [],
    );
  });
});
