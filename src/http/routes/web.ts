import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Router } from "../route";
import type { opsRoutes } from "./ops.routes";

/**
 * Where the page's files are: beside this module when run from source (Bun), or under the
 * working directory's `src/web` when this module was bundled into one file (for Node).
 */
function webDir(): string {
  const besideSource = fileURLToPath(new URL("../../web/", import.meta.url));
  return existsSync(join(besideSource, "admin.html"))
    ? besideSource
    : join(process.cwd(), "src", "web");
}

const asset = (name: string) => readFileSync(join(webDir(), name), "utf8");

/**
 * The operator's page and its two assets, served by the service itself: the machines that run
 * a sale may have no internet, so nothing comes from a CDN. Read once when the app is built.
 */
export function serveWeb(router: Router, routes: ReturnType<typeof opsRoutes>) {
  const page = asset("admin.html");
  const script = asset("admin.js");
  const style = asset("admin.css");
  // The page talks only to this service; everything else (frames, forms elsewhere) is refused.
  const security = {
    "content-security-policy":
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };
  router.handleSelfValidating(routes.getOperatorPage, (c) =>
    c.body(page, 200, { "content-type": "text/html; charset=utf-8", ...security }),
  );
  router.handleSelfValidating(routes.getOperatorScript, (c) =>
    c.body(script, 200, { "content-type": "text/javascript; charset=utf-8", ...security }),
  );
  router.handleSelfValidating(routes.getOperatorStyle, (c) =>
    c.body(style, 200, { "content-type": "text/css; charset=utf-8", ...security }),
  );
}
