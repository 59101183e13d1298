import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { useMade } from "./apps";
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
