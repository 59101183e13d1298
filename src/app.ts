import { Hono } from "hono";
import type { Deps } from "./deps-type";
import { AppError } from "./errors";
import type { RequestBindings } from "./http/bindings";
import { withBodyLimit } from "./http/body-limit";
import { createCors } from "./http/cors";
import { withRequestLifecycle } from "./http/lifecycle";
import { errorHandler, problemResponse } from "./http/problem";
import { adminRoutes } from "./http/routes/admin";
import { docsRoutes } from "./http/routes/docs";
import { opsRoutes } from "./http/routes/ops";
import { paymentRoutes } from "./http/routes/payments";
import { shopRoutes } from "./http/routes/shop";
import { webRoutes } from "./http/routes/web";
import { requestSchemas } from "./http/schemas";

const MAX_BODY_BYTES = 16 * 1024;

/** Builds the HTTP app from its dependencies; no runtime API, so tests build the same app. */
export function createApp(deps: Deps) {
  const schemas = requestSchemas(deps.config);
  // Chained, so that the app's type carries every route for Hono's typed client (AppType).
  const app = new Hono<{ Bindings: RequestBindings }>()
    .route("/", opsRoutes(deps, schemas))
    .route("/api", shopRoutes(deps, schemas))
    .route("/api/payments", paymentRoutes(deps, schemas))
    .route("/api/admin", adminRoutes(deps, schemas))
    .route("/", webRoutes())
    .route("/", docsRoutes());
  app.notFound((c) =>
    problemResponse(new AppError("not_found", `No route for ${c.req.method} ${c.req.path}.`)),
  );
  app.onError(errorHandler(deps.logger));
  withBodyLimit(app, MAX_BODY_BYTES);
  withRequestLifecycle(app, {
    logger: deps.logger,
    metrics: deps.metrics,
    deadlineMs: deps.config.REQUEST_TIMEOUT_MS,
    cors: createCors(deps.config.CORS_ORIGINS),
  });
  return app;
}

export type App = ReturnType<typeof createApp>;

/**
 * The API's type for Hono's typed client: `hc<AppType>("https://sale.example")` knows every
 * route, its path parameters and JSON body, and the JSON it answers.
 */
export type AppType = App;
