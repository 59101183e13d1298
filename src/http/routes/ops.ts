import { Hono } from "hono";
import type { Deps } from "../../deps-type";
import { serviceUnavailable } from "../../errors";
import { openApiDocument } from "../openapi";
import type { RequestSchemas } from "../schemas";

export function opsRoutes(deps: Deps, schemas: RequestSchemas) {
  const document = JSON.stringify(openApiDocument(schemas));
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      if (!(await deps.readiness.check())) {
        throw serviceUnavailable("The database does not answer.");
      }
      return c.json({ status: "ready" });
    })
    .get("/metrics", async (c) => {
      return c.body(await deps.metrics.scrape(), 200, {
        "content-type": deps.metrics.registry.contentType,
      });
    })
    .get("/openapi.json", (c) => c.body(document, 200, { "content-type": "application/json" }));
}
