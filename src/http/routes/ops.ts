import type { Deps } from "../../deps-type";
import { serviceUnavailable } from "../../errors";
import type { Router } from "../route";
import type { opsRoutes } from "./ops.routes";

/**
 * The probes, the metrics scrape and the OpenAPI document, written out on its first request and
 * kept: generating it takes longer than all the rest of an app's start-up, and most processes
 * (each worker, each test's app) are never asked for it.
 */
export function serveOps(
  router: Router,
  routes: ReturnType<typeof opsRoutes>,
  deps: Deps,
  writeDocument: () => string,
) {
  let document: string | undefined;
  router.handleSelfValidating(routes.getHealth, (c) => c.json({ status: "ok" }));
  router.handleSelfValidating(routes.getReadiness, async (c) => {
    if (!(await deps.readiness.check())) {
      throw serviceUnavailable("The database does not answer.");
    }
    return c.json({ status: "ready" });
  });
  router.handleSelfValidating(routes.getMetrics, async (c) => {
    return c.body(await deps.metrics.scrape(), 200, {
      "content-type": deps.metrics.registry.contentType,
    });
  });
  router.handleSelfValidating(routes.getOpenApiDocument, (c) => {
    document ??= writeDocument();
    return c.body(document, 200, { "content-type": "application/json" });
  });
}
