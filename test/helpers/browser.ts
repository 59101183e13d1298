import { existsSync } from "node:fs";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { useMade } from "./apps";
import { ADMIN_TOKEN } from "./harness";
import { until } from "./until";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, with the flags this workplace needs (no sandbox as root, and no
 * background networking: the machines have no internet). A test tool's own browser download
 * cannot work here; scripts/test.sh installs the package.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run bash scripts/test.sh, which installs it`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Debian's Chromium for a file or describe block: launched in beforeAll, closed in afterAll. */
export function useChromium(): Browser {
  const part = useMade(launchChromium, (browser) => browser.close());
  return part((browser) => browser);
}

/**
 * Polls what a page shows until `accept` takes it, and returns it. (The page's CSP forbids eval,
 * so Playwright's string-based waitForFunction cannot run there; locators can.)
 */
export async function untilPageShows(
  read: () => Promise<string | null>,
  accept: (seen: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  const taken = (seen: string | null): seen is string => seen !== null && accept(seen);
  const seen = await until(read, taken, { tries: Math.ceil(timeoutMs / 50), everyMs: 50 });
  if (!taken(seen)) throw new Error(`the page showed ${JSON.stringify(seen)}`);
  return seen;
}

/** untilPageShows for one exact text, within the 5 s most of the operator page's checks allow. */
export function untilPageReads(
  read: () => Promise<string | null>,
  expected: string,
  timeoutMs = 5000,
): Promise<string> {
  return untilPageShows(read, (seen) => seen === expected, timeoutMs);
}

/** The refusal a part of the page shows in its `.problem`, once it shows one. */
export function shownProblem(part: Locator, timeoutMs = 5000): Promise<string> {
  return untilPageShows(
    () => part.locator(".problem").textContent(),
    (seen) => seen.length > 0,
    timeoutMs,
  );
}

/**
 * The operator's page at `baseUrl`, signed in with the admin token. Returns the errors its
 * scripts throw from now on, which a test expects to be none at its end.
 */
export async function signIn(page: Page, baseUrl: string): Promise<string[]> {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`script error: ${err.message}`));
  await page.goto(`${baseUrl}/admin`);
  await page.fill("#token", ADMIN_TOKEN);
  await page.click("#sign-in button[type=submit]");
  return problems;
}
