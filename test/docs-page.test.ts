import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser";
import { useServedContext } from "./helpers/harness";

// GET /docs in a real browser: the API reference renders from this service alone.

describe("GET /docs in Chromium", () => {
  const served = useServedContext();
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

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
});
