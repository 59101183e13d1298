import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context, Handler, Hono, MiddlewareHandler } from "hono";
import { AppError, codeToStatus, type ErrorCode } from "../errors";
import type { RequestBindings } from "./bindings";
import { MAX_BODY_BYTES } from "./body-limit";
import type { BuyerVariables } from "./middleware";
import { Problem } from "./schemas";
import { parseNow, readJson } from "./validate";

type Responses = RouteConfig["responses"];
type ResponseHeaderName =
  | "X-Request-Id"
  | "Retry-After"
  | "Idempotent-Replayed"
  | "WWW-Authenticate";

const header = (name: ResponseHeaderName) => ({ $ref: `#/components/headers/${name}` });

/**
 * Problem responses for `codes` (each with what it means here), one per status: the body's
 * `code` is the enum of that status's codes, with an example of the first.
 */
export function problems(codes: Partial<Record<ErrorCode, string>>): Responses {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of Object.keys(codes) as ErrorCode[]) {
    const status = codeToStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Responses = {};
  for (const [status, list] of byStatus) {
    const [first, ...rest] = list as [ErrorCode, ...ErrorCode[]];
    const example = new AppError(first, codes[first] ?? "What went wrong, for a person.");
    const headers: Record<string, ReturnType<typeof header>> = {};
    if (status === 429 || status === 503 || list.includes("sale_not_started")) {
      headers["Retry-After"] = header("Retry-After");
    }
    if (status === 401) headers["WWW-Authenticate"] = header("WWW-Authenticate");
    responses[String(status)] = {
      description: list.map((code) => (codes[code] ? `${code}: ${codes[code]}` : code)).join("; "),
      headers,
      content: {
        "application/problem+json": {
          schema: Problem.extend({ code: z.enum([first, ...rest]) }),
          example: example.toProblem(),
        },
      },
    };
  }
  return responses;
}

const bodyRefusals = problems({
  malformed_json: "the body is not one JSON document",
  unsupported_media_type: "the body is not application/json",
});
const tooLarge = problems({ payload_too_large: `the body is over ${MAX_BODY_BYTES / 1024} KiB` });
const internalError = problems({
  internal_error: "a bug, logged with the request id; the body says nothing internal",
});

/** A JSON body or answer with its schema and an example. */
export function json<S extends z.ZodType>(schema: S, example: z.input<S>) {
  return { content: { "application/json": { schema, example } } };
}

/**
 * A route's declaration: what `createRoute` takes, plus what every route shares, added here:
 * the 500, the body refusals on routes that take a body (400, 415), the 413 on every method that
 * may send one, and the request id header on every response (Idempotent-Replayed too on a route
 * that takes an Idempotency-Key).
 */
export function defineRoute<const R extends RouteConfig>(config: R) {
  const replayable =
    config.request?.headers instanceof z.ZodObject
      ? "idempotency-key" in config.request.headers.shape
      : false;
  // Every body a route may be sent is bounded, read or not (src/http/body-limit.ts); a route's
  // own 413 (a larger bound) stands over the shared one.
  const bounded = config.method !== "get" && config.method !== "head";
  const responses: Responses = {
    ...(bounded ? tooLarge : {}),
    ...config.responses,
    ...(config.request?.body ? bodyRefusals : {}),
    ...internalError,
  };
  for (const [status, response] of Object.entries(responses)) {
    if ("$ref" in response) continue;
    const remembered = replayable && /^(2..|404|409|410)$/.test(status);
    response.headers = {
      "X-Request-Id": header("X-Request-Id"),
      ...(remembered ? { "Idempotent-Replayed": header("Idempotent-Replayed") } : {}),
      ...(response.headers as Record<string, unknown> | undefined),
    };
  }
  return createRoute({ security: [], ...config, responses });
}

type Part<R extends RouteConfig, K extends string> =
  R["request"] extends Record<K, infer S> ? (S extends z.ZodType ? z.output<S> : never) : never;
type BodyOf<R extends RouteConfig> = R["request"] extends { body: { content: infer C } }
  ? C extends { "application/json": { schema: infer S extends z.ZodType } }
    ? z.output<S>
    : never
  : never;

/** A route's request, validated: what its declaration says each part is. */
export type Valid<R extends RouteConfig> = {
  param: Part<R, "params">;
  query: Part<R, "query">;
  header: Part<R, "headers">;
  json: BodyOf<R>;
};

/** What the lifecycle and the buyer middleware hand every handler. */
export type AppEnv = { Bindings: RequestBindings; Variables: BuyerVariables };

type Serve<R extends RouteConfig> = (
  c: Context<AppEnv>,
  input: Valid<R>,
) => Response | Promise<Response>;

/** The query as Hono's validator reads it: a repeated key is an array (and so refused). */
function queryOf(c: Context): Record<string, string | string[]> {
  const values: Record<string, string | string[]> = {};
  for (const [key, list] of Object.entries(c.req.queries())) {
    values[key] = list.length === 1 ? (list[0] as string) : list;
  }
  return values;
}

const honoPath = (path: string) => path.replaceAll(/\/{(\w+)}/g, "/:$1");

/**
 * A declared route's handler: the request's parts validated by the declaration's schemas in the
 * order the contract refuses them (path, query, headers, then the body: 415, 400, its 422; an
 * optional body not sent at all is `{}`),
 * then `serve`. One handler, not a chain of validator middleware (docs/hot-path.md, rule 2),
 * synchronous where nothing needs awaiting.
 */
export function validating<R extends RouteConfig>(
  route: R,
  serve: Serve<R>,
): (c: Context<AppEnv>) => Response | Promise<Response> {
  const { params, query, headers, body } = route.request ?? {};
  const headerSchema = headers instanceof z.ZodObject ? headers : undefined;
  const headerNames = headerSchema ? Object.keys(headerSchema.shape) : [];
  // A body declared as not required is read when one is sent: none at all is `{}`.
  const media = body?.content["application/json"];
  const bodySchema = media && "schema" in media ? media.schema : undefined;
  const jsonSchema = bodySchema instanceof z.ZodType ? bodySchema : undefined;
  const optional = body?.required !== true;
  return (c) => {
    const input = {} as Valid<R>;
    if (params) input.param = parseNow("param", params, c.req.param()) as Valid<R>["param"];
    if (query) input.query = parseNow("query", query, queryOf(c)) as Valid<R>["query"];
    if (headerSchema) {
      const values: Record<string, string | undefined> = {};
      for (const name of headerNames) values[name] = c.req.header(name);
      input.header = parseNow("header", headerSchema, values) as Valid<R>["header"];
    }
    if (!jsonSchema) return serve(c, input);
    const sent = optional && c.req.raw.body === null ? Promise.resolve({}) : readJson(c);
    return sent.then((value) => {
      input.json = parseNow("json", jsonSchema, value) as Valid<R>["json"];
      return serve(c, input);
    });
  };
}

/** Serves declared routes on a Hono app; the OpenAPI document comes from the same declarations. */
export class Router {
  constructor(readonly app: Hono<AppEnv>) {}

  /** Serves `route` with `serve` (see `validating`); `before` runs first (an auth, a signature). */
  handle<R extends RouteConfig>(
    route: R,
    serve: Serve<R>,
    ...before: MiddlewareHandler<AppEnv>[]
  ): void {
    this.handleSelfValidating(route, ...before, validating(route, serve));
  }

  /**
   * Serves `route` with `handlers` that validate for themselves, with the declaration's schemas
   * (a route keeping a measured shortcut: the hold and order writes, the cached product read),
   * or that have nothing to validate. The declaration describes it and adds no layer.
   */
  handleSelfValidating(
    route: RouteConfig,
    ...handlers: (MiddlewareHandler<AppEnv> | Handler<AppEnv>)[]
  ): void {
    const [first, ...rest] = handlers;
    if (!first) throw new Error(`no handler for ${route.method} ${route.path}`);
    this.app.on(route.method.toUpperCase(), honoPath(route.path), first, ...rest);
  }
}
