import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { serviceUnavailable } from "../errors";
import { Deadline } from "../lib/deadline";
import type { Logger } from "../lib/logger";
import type { Metrics } from "../lib/metrics";
import { problemResponse } from "./problem";

/** What the lifecycle hands to every handler through Hono's `c.env`. */
export type RequestBindings = { requestId: string; deadline: Deadline };

export function requestIdOf(c: Context): string | undefined {
  return (c.env as Partial<RequestBindings> | undefined)?.requestId;
}

/** The request's deadline, for the services to bound and guard their database work. */
export function deadlineOf(c: Context): Deadline {
  const deadline = (c.env as Partial<RequestBindings> | undefined)?.deadline;
  if (!deadline) throw new Error("no request deadline: the app was served without its lifecycle");
  return deadline;
}

/**
 * One request's bindings. Its deadline is made on first use, so a request answered
 * synchronously (a cached read) never makes one.
 */
class Bindings implements RequestBindings {
  private made: Deadline | undefined;

  constructor(
    readonly requestId: string,
    private readonly started: number,
    private readonly deadlineMs: number,
  ) {}

  get deadline(): Deadline {
    this.made ??= Deadline.after(this.deadlineMs - (performance.now() - this.started));
    return this.made;
  }
}

const VALID_REQUEST_ID = /^[\w.:=-]{1,200}$/;
const bootId = randomUUID().slice(0, 8);
let sequence = 0;

type RouteMatcher = { method: string; path: string; pattern: RegExp };

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}

/**
 * Wraps the app's fetch with what every request needs: a request id (echoing a valid incoming
 * one), a deadline past which the client gets a 503 instead of waiting on a database that does
 * not answer, and one metric sample and log line labelled by route pattern. The 503 is sent
 * only when the deadline could abandon the request's work (nothing committed, nothing will);
 * a request whose COMMIT is under way is answered with its real outcome. It sits around the
 * app rather than inside it as middleware so that a handler answering synchronously (a cached
 * product read) keeps Hono's and Bun's synchronous fast path: one async middleware alone cost
 * a third of the cached-read throughput.
 */
export function withRequestLifecycle(
  app: Hono<{ Bindings: RequestBindings }>,
  options: { logger: Logger; metrics: Metrics; deadlineMs: number },
): void {
  const { logger, metrics, deadlineMs } = options;
  const dispatch = app.fetch;
  const expired = serviceUnavailable(
    `The request did not finish within ${deadlineMs} ms; retry shortly.`,
  );
  let routes: RouteMatcher[] | undefined;

  // Matching a path against every route costs more than the cached read it labels, and a sale
  // asks for the same few paths over and over: remembered, up to a bound.
  const seen = new Map<string, string>();
  const routeOf = (method: string, path: string): string => {
    const key = `${method} ${path}`;
    const known = seen.get(key);
    if (known !== undefined) return known;
    routes ??= app.routes
      .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => ({
        method: r.method,
        path: r.path,
        pattern: new RegExp(`^${r.path.replace(/:\w+/g, "[^/]+")}/?$`),
      }));
    const lookup = method === "HEAD" ? "GET" : method;
    const route =
      routes.find((r) => r.method === lookup && r.pattern.test(path))?.path ?? "unmatched";
    if (seen.size >= 10_000) seen.clear();
    seen.set(key, route);
    return route;
  };

  const finish = (
    request: Request,
    requestId: string,
    started: number,
    response: Response,
  ): Response => {
    response.headers.set("x-request-id", requestId);
    const seconds = (performance.now() - started) / 1000;
    const route = routeOf(request.method, pathOf(request.url));
    const status = String(response.status);
    metrics.requests.record(request.method, route, status, seconds);
    if (logger.isLevelEnabled("info")) {
      const durationMs = Math.round(seconds * 1000);
      logger.info({ requestId, method: request.method, route, status, durationMs }, "request");
    }
    return response;
  };

  const withDeadline = (pending: Promise<Response>, deadline: Deadline): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const stopWaiting = deadline.onAbandon(() => resolve(problemResponse(expired)));
      deadline.arm();
      pending.then(
        (response) => {
          stopWaiting();
          deadline.clear();
          resolve(response);
        },
        (err: unknown) => {
          stopWaiting();
          deadline.clear();
          reject(err);
        },
      );
    });

  app.fetch = (request: Request, _env?: unknown, executionCtx?: Parameters<typeof dispatch>[2]) => {
    const started = performance.now();
    const incoming = request.headers.get("x-request-id");
    const requestId =
      incoming !== null && VALID_REQUEST_ID.test(incoming)
        ? incoming
        : `${bootId}-${(++sequence).toString(36)}`;
    const bindings = new Bindings(requestId, started, deadlineMs);
    const result = dispatch(request, bindings, executionCtx);
    if (result instanceof Promise) {
      return withDeadline(result, bindings.deadline).then((response) =>
        finish(request, requestId, started, response),
      );
    }
    return finish(request, requestId, started, result);
  };
}
