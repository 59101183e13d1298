import { Hono } from "hono";
import type { Deps } from "./deps-type";
import { AppError } from "./errors";
import { MAX_BODY_BYTES, STRIPE_MAX_BODY_BYTES, withBodyLimit } from "./http/body-limit";
import { createCors } from "./http/cors";
import { withRequestLifecycle } from "./http/lifecycle";
import { declaredRoutes, openApiDocument } from "./http/openapi";
import { errorHandler, problemResponse } from "./http/problem";
import { type AppEnv, Router } from "./http/route";
import { serveAdmin } from "./http/routes/admin";
import { serveDocs } from "./http/routes/docs";
import { serveOps } from "./http/routes/ops";
import { servePayments } from "./http/routes/payments";
import { serveShop } from "./http/routes/shop";
import { serveWeb } from "./http/routes/web";
import { requestSchemas } from "./http/schemas";

const LARGER_BODIES = { "/api/payments/stripe": STRIPE_MAX_BODY_BYTES };
/**
 * Builds the HTTP app from its dependencies; no runtime API, so tests build the same app. Each
 * route is declared once (`src/http/routes/*.routes.ts`): the handlers below serve the
 * declarations, `/openapi.json` documents them and `client/api.ts` is generated from them.
 */
export function createApp(deps: Deps) {
  const schemas = requestSchemas(deps.config);
  const routes = declaredRoutes(schemas);
  const app = new Hono<AppEnv>();
  const router = new Router(app);
  serveOps(router, routes, deps, () => JSON.stringify(openApiDocument(schemas)));
  serveShop(router, routes, deps, schemas);
  servePayments(router, routes, deps);
  serveAdmin(router, routes, deps);
  serveWeb(router, routes);
  serveDocs(router, routes);
  app.notFound((c) =>
    problemResponse(new AppError("not_found", `No route for ${c.req.method} ${c.req.path}.`)),
  );
  app.onError(errorHandler(deps.logger));
  withBodyLimit(app, MAX_BODY_BYTES, LARGER_BODIES);
  withRequestLifecycle(app, {
    logger: deps.logger,
    metrics: deps.metrics,
    deadlineMs: deps.config.REQUEST_TIMEOUT_MS,
    cors: createCors(deps.config.CORS_ORIGINS),
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
