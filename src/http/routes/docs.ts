import { readFile } from "node:fs/promises";
import { dirname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Scalar } from "@scalar/hono-api-reference";
import { AppError } from "../../errors";
import type { Router } from "../route";
import type { opsRoutes } from "./ops.routes";

const ASSETS_ROUTE = "/docs/assets";

/**
 * The API reference's browser bundle comes from the installed @scalar/api-reference package,
 * pinned by the lockfile, and is served by this route: no CDN, so /docs renders on a machine
 * with no internet, and nothing unpinned runs in an operator's browser.
 */
function scalarBundleDir(): string {
  return join(dirname(fileURLToPath(import.meta.resolve("@scalar/api-reference"))), "browser");
}

const contentTypes: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};

export function serveDocs(router: Router, routes: ReturnType<typeof opsRoutes>) {
  const root = scalarBundleDir();
  router.handleSelfValidating(
    routes.getApiReference,
    Scalar({
      url: "/openapi.json",
      pageTitle: "flash-sale API",
      cdn: `${ASSETS_ROUTE}/standalone.js`,
      // Scalar would fetch its fonts from its own servers; the system's fonts do.
      withDefaultFonts: false,
      // Its cloud features (Ask AI, Generate MCP, the developer tools' Share and Deploy, Open API
      // Client at client.scalar.com) and its telemetry need Scalar's services: none is called.
      agent: { disabled: true },
      mcp: { disabled: true },
      showDeveloperTools: "never",
      hideClientButton: true,
      telemetry: false,
    }),
  );
  // The page's own files: not an API route, so not declared.
  router.app.get(`${ASSETS_ROUTE}/*`, async (c) => {
    const relative = normalize(c.req.path.slice(ASSETS_ROUTE.length + 1));
    const path = join(root, relative);
    const type = contentTypes[relative.slice(relative.lastIndexOf("."))];
    if (!type || !path.startsWith(root + sep)) {
      throw new AppError("not_found", `No route for GET ${c.req.path}.`);
    }
    const body = await readFile(path).catch(() => undefined);
    if (!body) throw new AppError("not_found", `No route for GET ${c.req.path}.`);
    return c.body(body, 200, {
      "content-type": type,
      "cache-control": "public, max-age=86400",
    });
  });
}
