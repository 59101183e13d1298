import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { answerWithin } from "../deadline/request-deadline";
import { serviceUnavailable } from "../errors";
import type { Logger } from "../lib/logger";
import type { Metrics } from "../lib/metrics";
import type { SeriesRecorder } from "../lib/request-metrics";
import { Bindings, type RequestBindings } from "./bindings";
import type { Cors } from "./cors";
import { pathOf } from "./path";
import { problemResponse } from "./problem";

const VALID_REQUEST_ID = /^[\w.:=-]{1,200}$/;
const bootId = randomUUID().slice(0, 8);
let sequence = 0;

type RouteMatcher = { method: string; path: string; pattern: RegExp };

/** A route's label with its metric series by status, looked up once per URL. */
type RouteEntry = { route: string; byStatus: Map<number, SeriesRecorder> };

/**
 * Wraps the app's fetch with what every request needs: a request id (echoing a valid incoming
 * one), `X-Content-Type-Options: nosniff`, CORS where configured, the request's deadline
 * (`src/deadline/request-deadline.ts`: past it the client gets a 503 instead of waiting on a
 * database that does not answer), and one metric sample and log line labelled by route
 * pattern. It wraps the app's fetch rather than sitting in it as middleware, so that a handler
 * answering synchronously keeps Hono's and Bun's synchronous fast path (docs/hot-path.md, rule 2).
 */
export function withRequestLifecycle<E extends { Bindings: RequestBindings }>(
  app: Hono<E>,
  options: { logger: Logger; metrics: Metrics; deadlineMs: number; cors?: Cors },
): void {
  const { logger, metrics, deadlineMs, cors } = options;
  const dispatch = app.fetch;
  const expired = serviceUnavailable(
    `The request did not finish within ${deadlineMs} ms; retry shortly.`,
  );
  const answerExpired = () => problemResponse(expired);
  const logsRequests = logger.isLevelEnabled("info");
  let routes: RouteMatcher[] | undefined;

  // Matching a path against every route costs more than the cached read it labels, and a sale
  // asks for the same few URLs over and over: remembered by URL, up to a bound.
  const seen = new Map<string, Map<string, RouteEntry>>();
  let remembered = 0;
  const routeOf = (method: string, url: string): RouteEntry => {
    let byUrl = seen.get(method);
    if (byUrl === undefined) {
      byUrl = new Map();
      seen.set(method, byUrl);
    }
    const known = byUrl.get(url);
    if (known !== undefined) return known;
    routes ??= app.routes
      .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => ({
        method: r.method,
        path: r.path,
        pattern: new RegExp(`^${r.path.replace(/:\w+/g, "[^/]+")}/?$`),
      }));
    const lookup = method === "HEAD" ? "GET" : method;
    const path = pathOf(url);
    const route =
      routes.find((r) => r.method === lookup && r.pattern.test(path))?.path ?? "unmatched";
    if (remembered >= 10_000) {
      for (const urls of seen.values()) urls.clear();
      remembered = 0;
    }
    const entry: RouteEntry = { route, byStatus: new Map() };
    byUrl.set(url, entry);
    remembered++;
    return entry;
  };

  const finish = (
    request: Request,
    bindings: Bindings,
    started: number,
    response: Response,
  ): Response => {
    const { requestId } = bindings;
    if (bindings.stamped !== response) {
      response.headers.set("x-request-id", requestId);
      response.headers.set("x-content-type-options", "nosniff");
    }
    cors?.decorate(request, response);
    const seconds = (performance.now() - started) / 1000;
    const { method } = request;
    const entry = routeOf(method, request.url);
    const { status } = response;
    let series = entry.byStatus.get(status);
    if (series === undefined) {
      series = metrics.requests.seriesOf(method, entry.route, String(status));
      entry.byStatus.set(status, series);
    }
    series.observe(seconds);
    if (logsRequests) {
      const durationMs = Math.round(seconds * 1000);
      logger.info(
        { requestId, method, route: entry.route, status: String(status), durationMs },
        "request",
      );
    }
    return response;
  };

  app.fetch = (
    request: Request,
    runtime?: unknown,
    executionCtx?: Parameters<typeof dispatch>[2],
  ) => {
    const started = performance.now();
    const incoming = request.headers.get("x-request-id");
    const requestId =
      incoming !== null && VALID_REQUEST_ID.test(incoming)
        ? incoming
        : `${bootId}-${(++sequence).toString(36)}`;
    const bindings = new Bindings(requestId, started, deadlineMs, request, runtime);
    const preflight = cors?.preflight(request);
    if (preflight !== undefined) return finish(request, bindings, started, preflight);
    const result = dispatch(request, bindings, executionCtx);
    if (result instanceof Promise) {
      return answerWithin(bindings, result, answerExpired, (response) =>
        finish(request, bindings, started, response),
      );
    }
    return finish(request, bindings, started, result);
  };
}
