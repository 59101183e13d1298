import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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

/**
 * Polls what a page shows until `accept` takes it, and returns it. (The page's CSP forbids eval,
 * so Playwright's string-based waitForFunction cannot run there; locators can.)
 */
export async function until(
  read: () => Promise<string | null>,
  accept: (seen: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let seen: string | null = null;
  while (performance.now() < deadline) {
    seen = await read();
    if (seen !== null && accept(seen)) return seen;
    await Bun.sleep(50);
  }
  throw new Error(`the page showed ${JSON.stringify(seen)}`);
}
