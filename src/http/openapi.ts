import { z } from "zod";
import { AppError, codeToStatus, type ErrorCode } from "../errors";
import * as s from "./schemas";

type Json = Record<string, unknown>;

const schema = (zodSchema: z.ZodType): Json =>
  z.toJSONSchema(zodSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as Json;

const json = (ref: string) => ({
  "application/json": { schema: { $ref: `#/components/schemas/${ref}` } },
});
const knownCodes = Object.keys(codeToStatus) as ErrorCode[];

/** A problem response whose schema lists the codes its description names, with an example. */
const problem = (description: string) => {
  const codes = knownCodes.filter((code) => new RegExp(`\\b${code}\\b`).test(description));
  const [first] = codes;
  return {
    description,
    content: {
      "application/problem+json": {
        schema:
          codes.length === 0
            ? { $ref: "#/components/schemas/Problem" }
            : {
                allOf: [
                  { $ref: "#/components/schemas/Problem" },
                  { type: "object", properties: { code: { enum: codes } } },
                ],
              },
        ...(first
          ? {
              example: {
                type: "about:blank",
                title: new AppError(first, "").title,
                status: codeToStatus[first],
                code: first,
                detail: "What went wrong, for a person.",
              },
            }
          : {}),
      },
    },
  };
};
const ok = (description: string, ref: string) => ({ description, content: json(ref) });

const idParam = (what: string) => ({
  name: "id",
  in: "path",
  required: true,
  description: `The ${what} id`,
  schema: schema(s.IdParams.shape.id),
});
const idempotencyHeader = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "Makes a retry safe: the same key and body get the first response again.",
  schema: schema(s.IdempotencyHeaders.shape["idempotency-key"]),
};
const body = (ref: string) => ({ required: true, content: json(ref) });
const common = {
  "400": problem("The body is not one JSON document (malformed_json)"),
  "413": problem("Body over 16 KiB (payload_too_large)"),
  "415": problem("Body is not application/json (unsupported_media_type)"),
  "422": problem(
    "Invalid field (validation_failed) or a key reused with another body (idempotency_key_reused)",
  ),
  "503": problem(
    "Database unreachable or too busy, or the request did not finish in time; nothing changed (service_unavailable)",
  ),
};
const admin = [{ bearer: [] }];
const pageParams = [
  {
    name: "limit",
    in: "query",
    required: false,
    description: "Items per page, 1 to 1000 (default 100)",
    schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
  },
  {
    name: "after_id",
    in: "query",
    required: false,
    description: "The last id of the previous page (`next_after_id`); 0 for the first",
    schema: { type: "integer", minimum: 0, default: 0 },
  },
];
/** A buyer token, or nothing in anonymous mode (neither BUYER_JWT_SECRET nor BUYER_JWKS_URL). */
const shopper = [{ buyer: [] }, {}];
const notYours = "or another buyer's";
const rateLimited =
  "too_many_requests: the client passed SHOPPER_RATE_PER_SECOND; nothing changed, Retry-After says when to retry";

const operationIds: Record<string, string> = {
  "get /api/products/{id}": "getProduct",
  "get /api/products/{id}/events": "streamProductStock",
  "post /api/holds": "createHold",
  "get /api/holds/{id}": "getHold",
  "delete /api/holds/{id}": "releaseHold",
  "post /api/orders": "createOrder",
  "get /api/orders/{id}": "getOrder",
  "post /api/payments/webhook": "receivePaymentEvent",
  "get /api/admin/products": "listProducts",
  "post /api/admin/products": "createProduct",
  "patch /api/admin/products/{id}": "updateProduct",
  "post /api/admin/products/{id}/restock": "restockProduct",
  "get /api/admin/payment-conflicts": "listPaymentConflicts",
  "post /api/admin/payment-conflicts/{id}/resolve": "resolvePaymentConflict",
  "get /api/admin/events": "listMerchantEvents",
  "post /api/admin/events/{id}/redeliver": "redeliverMerchantEvent",
  "get /admin": "getOperatorPage",
  "get /admin/admin.js": "getOperatorScript",
  "get /admin/admin.css": "getOperatorStyle",
  "get /healthz": "getHealth",
  "get /readyz": "getReadiness",
  "get /metrics": "getMetrics",
  "get /openapi.json": "getOpenApiDocument",
  "get /docs": "getApiReference",
};

const headers = {
  "X-Request-Id": {
    description:
      "The request's id, for logs and support: the incoming one if valid, else a new one",
    schema: { type: "string", pattern: "^[A-Za-z0-9_.:=-]{1,200}$" },
  },
  "Retry-After": {
    description: "Seconds to wait before retrying; the request changed nothing",
    schema: { type: "integer", minimum: 1 },
  },
  "Idempotent-Replayed": {
    description:
      "Present (`true`) when this is the stored answer to an earlier request with the same Idempotency-Key",
    schema: { type: "string", enum: ["true"] },
  },
  "WWW-Authenticate": {
    description: "`Bearer`: the route needs a bearer token",
    schema: { type: "string" },
  },
};
const header = (name: keyof typeof headers) => ({ $ref: `#/components/headers/${name}` });

type Operation = {
  operationId?: string;
  security?: unknown[];
  parameters?: unknown[];
  responses: Record<string, { headers?: Record<string, unknown> }>;
};

/**
 * What every operation shares, added in one place: its operationId, `security: []` for public
 * routes, the optional X-Request-Id it echoes, and the headers its responses carry.
 */
function finish<D>(document: D): D {
  const { paths } = document as unknown as { paths: Record<string, Record<string, Operation>> };
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const id = operationIds[`${method} ${path}`];
      if (!id) throw new Error(`no operationId for ${method} ${path}`);
      operation.operationId = id;
      operation.security ??= [];
      const replayable = (operation.parameters ?? []).includes(idempotencyHeader);
      operation.parameters = [...(operation.parameters ?? []), requestIdParam];
      for (const [status, response] of Object.entries(operation.responses)) {
        const remembered = /^(2..|404|409|410)$/.test(status);
        response.headers = {
          "X-Request-Id": header("X-Request-Id"),
          ...(replayable && remembered
            ? { "Idempotent-Replayed": header("Idempotent-Replayed") }
            : {}),
          ...(status === "503" || status === "429" ? { "Retry-After": header("Retry-After") } : {}),
          ...(status === "401" ? { "WWW-Authenticate": header("WWW-Authenticate") } : {}),
          ...response.headers,
        };
      }
    }
  }
  return document;
}

const requestIdParam = {
  name: "X-Request-Id",
  in: "header",
  required: false,
  description: "Your id for this request (1 to 200 of A-Z a-z 0-9 _ . : = -), echoed back",
  schema: headers["X-Request-Id"].schema,
};

const webhookHeaders = [
  ["webhook-id", "The event's unique id (Standard Webhooks)"],
  ["webhook-timestamp", "Unix seconds when the event was signed; five minutes of tolerance"],
  ["webhook-signature", "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated"],
].map(([name, description]) => ({
  name,
  in: "header",
  required: false,
  description: `${description}. Required when WEBHOOK_SECRET is set.`,
  schema: { type: "string" },
}));

/** The OpenAPI 3.1 document, built from the same zod schemas that validate requests. */
export function openApiDocument(schemas: s.RequestSchemas) {
  return finish(baseDocument(schemas));
}

function baseDocument(schemas: s.RequestSchemas) {
  return {
    openapi: "3.1.0",
    info: {
      title: "flash-sale",
      version: "0.1.0",
      description: "Sells limited stock in a flash sale without overselling.",
      license: { name: "Proprietary: all rights reserved", identifier: "LicenseRef-Proprietary" },
    },
    servers: [{ url: "/", description: "The service that serves this document" }],
    components: {
      headers,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
        buyer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "A buyer token: HS256 (BUYER_JWT_SECRET) or RS256/ES256/EdDSA (BUYER_JWKS_URL), with exp and sub",
        },
      },
      schemas: {
        CreateHoldInput: schema(schemas.CreateHoldInput),
        CreateOrderInput: schema(schemas.CreateOrderInput),
        PaymentEventInput: schema(schemas.PaymentEventInput),
        CreateProductInput: schema(schemas.CreateProductInput),
        UpdateProductInput: schema(schemas.UpdateProductInput),
        RestockInput: schema(schemas.RestockInput),
        ResolveConflictInput: schema(schemas.ResolveConflictInput),
        Product: schema(s.Product),
        Hold: schema(s.Hold),
        Order: schema(s.Order),
        WebhookResult: schema(s.WebhookResult),
        Problem: schema(s.Problem),
        ProductReportPage: schema(s.ProductReportPage),
        PaymentConflict: schema(s.PaymentConflict),
        PaymentConflictPage: schema(s.PaymentConflictPage),
        MerchantEvent: schema(s.MerchantEvent),
        MerchantEventPage: schema(s.MerchantEventPage),
      },
    },
    paths: {
      "/api/products/{id}": {
        get: {
          summary: "Read a product and its available stock (cached)",
          description:
            "Carries `ETag` (moves with the product, not with `sale_state`) and `Cache-Control: public, max-age=S`, S the cache TTL in whole seconds but never past the next edge of the sale window. `If-None-Match` with the current tag: 304.",
          parameters: [
            idParam("product"),
            {
              name: "If-None-Match",
              in: "header",
              required: false,
              description: "An ETag of an earlier read: 304 while it is still current",
              schema: { type: "string" },
            },
          ],
          responses: {
            "200": ok("The product", "Product"),
            "304": { description: "Not modified: the ETag is current (no body)" },
            "404": problem("product_not_found"),
            ...common,
          },
        },
      },
      "/api/products/{id}/events": {
        get: {
          summary:
            "Live stock (Server-Sent Events): the product now, then at most one `stock` event per STOCK_EVENTS_INTERVAL_MS while it changes",
          parameters: [idParam("product")],
          responses: {
            "200": {
              description:
                "text/event-stream of `event: stock`, `id: <a number that grows with every change>`, `data: <the product as GET returns it>`; the sale window's opening and closing count as changes; a comment every 15 s",
              content: { "text/event-stream": { schema: { type: "string" } } },
            },
            "404": problem("product_not_found"),
            "422": problem("Invalid id (validation_failed)"),
            "503": problem("This process already serves STOCK_EVENTS_MAX_STREAMS streams"),
          },
        },
      },
      "/api/holds": {
        post: {
          summary: "Reserve units for HOLD_TTL_SECONDS",
          security: shopper,
          parameters: [idempotencyHeader],
          requestBody: body("CreateHoldInput"),
          responses: {
            "201": ok("The hold", "Hold"),
            "401": problem(
              "unauthorized (no valid buyer token, or an anonymous hold on a limited product)",
            ),
            "404": problem("product_not_found"),
            "409": problem(
              "sale_not_started (with starts_at and Retry-After), sale_ended (with ended_at), insufficient_stock, buyer_limit_exceeded (with limit and used) or idempotency_key_in_progress",
            ),
            "429": problem(
              "too_many_requests: HOLD_QUEUE_MAX requests for this product already wait in this process, or the client passed SHOPPER_RATE_PER_SECOND; nothing changed",
            ),
            ...common,
          },
        },
      },
      "/api/holds/{id}": {
        get: {
          summary: "Read a hold",
          security: shopper,
          parameters: [idParam("hold")],
          responses: {
            "200": ok("The hold", "Hold"),
            "401": problem("unauthorized"),
            "404": problem(`hold_not_found (${notYours})`),
            ...common,
          },
        },
        delete: {
          summary: "Release an active hold",
          security: shopper,
          parameters: [idParam("hold")],
          responses: {
            "200": ok("The hold, released (or unchanged if already released or expired)", "Hold"),
            "401": problem("unauthorized"),
            "404": problem(`hold_not_found (${notYours})`),
            "409": problem("hold_already_used"),
            "429": problem(rateLimited),
            ...common,
          },
        },
      },
      "/api/orders": {
        post: {
          summary: "Turn a hold into a pending order",
          security: shopper,
          parameters: [idempotencyHeader],
          requestBody: body("CreateOrderInput"),
          responses: {
            "201": ok("The order", "Order"),
            "401": problem("unauthorized"),
            "404": problem(`hold_not_found (${notYours})`),
            "409": problem("hold_already_used or idempotency_key_in_progress"),
            "410": problem("hold_expired or hold_released"),
            "429": problem(rateLimited),
            ...common,
          },
        },
      },
      "/api/orders/{id}": {
        get: {
          summary: "Read an order",
          security: shopper,
          parameters: [idParam("order")],
          responses: {
            "200": ok("The order", "Order"),
            "401": problem("unauthorized"),
            "404": problem(`order_not_found (${notYours})`),
            ...common,
          },
        },
      },
      "/api/payments/webhook": {
        post: {
          summary:
            "Payment provider event, signed per Standard Webhooks with WEBHOOK_SECRET (none set: every webhook is 401)",
          parameters: webhookHeaders,
          requestBody: body("PaymentEventInput"),
          responses: {
            "200": ok("Applied, duplicate or recorded against a final order", "WebhookResult"),
            "202": ok("Deferred: the order does not exist yet", "WebhookResult"),
            "401": problem(
              "invalid_signature: missing, wrong or stale signature, or no WEBHOOK_SECRET configured",
            ),
            ...common,
          },
        },
      },
      "/api/admin/products": {
        get: {
          summary:
            "Products with units paid and pending and the sell-out time, by id, keyset-paged",
          security: admin,
          parameters: pageParams,
          responses: {
            "200": ok("A page of products", "ProductReportPage"),
            "401": problem("unauthorized"),
            "422": problem("Invalid limit or after_id (validation_failed)"),
            "503": common["503"],
          },
        },
        post: {
          summary: "Create a product",
          security: admin,
          requestBody: body("CreateProductInput"),
          responses: {
            "201": ok("The product", "Product"),
            "401": problem("unauthorized"),
            ...common,
          },
        },
      },
      "/api/admin/products/{id}": {
        patch: {
          summary:
            "Rename a product, change its per-buyer limit or move its sale window (existing holds are kept); 422 when the end would not be after the start",
          security: admin,
          parameters: [idParam("product")],
          requestBody: body("UpdateProductInput"),
          responses: {
            "200": ok("The product", "Product"),
            "401": problem("unauthorized"),
            "404": problem("product_not_found"),
            ...common,
          },
        },
      },
      "/api/admin/products/{id}/restock": {
        post: {
          summary: "Add units to a product",
          security: admin,
          parameters: [idParam("product")],
          requestBody: body("RestockInput"),
          responses: {
            "200": ok("The product", "Product"),
            "401": problem("unauthorized"),
            "404": problem("product_not_found"),
            ...common,
          },
        },
      },
      "/api/admin/payment-conflicts": {
        get: {
          summary: "Webhook events that disagreed with an order's final state: refunds to make",
          security: admin,
          parameters: [
            ...pageParams,
            {
              name: "state",
              in: "query",
              required: false,
              description: "`open` (default): the unresolved ones; `all`: every one",
              schema: { type: "string", enum: ["open", "all"], default: "open" },
            },
          ],
          responses: {
            "200": ok("A page of conflicts", "PaymentConflictPage"),
            "401": problem("unauthorized"),
            "422": problem("Invalid limit, after_id or state (validation_failed)"),
            "503": common["503"],
          },
        },
      },
      "/api/admin/payment-conflicts/{id}/resolve": {
        post: {
          summary:
            "Mark a conflict refunded or ignored, once (the same body again changes nothing)",
          security: admin,
          parameters: [idParam("conflict")],
          requestBody: body("ResolveConflictInput"),
          responses: {
            "200": ok("The conflict, resolved", "PaymentConflict"),
            "401": problem("unauthorized"),
            "404": problem("conflict_not_found"),
            "409": problem("conflict_already_resolved (another way; the body has the conflict)"),
            ...common,
          },
        },
      },
      "/api/admin/events": {
        get: {
          summary: "Merchant events (the outbox) with their delivery, by id, keyset-paged",
          security: admin,
          parameters: [
            ...pageParams,
            {
              name: "delivery",
              in: "query",
              required: false,
              description: "Only events in this delivery status",
              schema: { type: "string", enum: ["pending", "delivered", "failed"] },
            },
          ],
          responses: {
            "200": ok("A page of events", "MerchantEventPage"),
            "401": problem("unauthorized"),
            "422": problem("Invalid limit, after_id or delivery (validation_failed)"),
            "503": common["503"],
          },
        },
      },
      "/api/admin/events/{id}/redeliver": {
        post: {
          summary: "Queue an event for delivery again, its attempts starting over",
          security: admin,
          parameters: [idParam("event")],
          requestBody: {
            required: false,
            description: "No body is needed; one sent is not read",
            content: { "application/json": { schema: { type: "object" } } },
          },
          responses: {
            "202": ok("The event, pending", "MerchantEvent"),
            "401": problem("unauthorized"),
            "404": problem("event_not_found"),
            "422": problem("Invalid id (validation_failed)"),
            "503": common["503"],
          },
        },
      },
      "/admin": {
        get: {
          summary: "The operator's page (asks for the admin token; every asset from this service)",
          responses: { "200": { description: "HTML", content: { "text/html": {} } } },
        },
      },
      "/admin/admin.js": {
        get: {
          summary: "The operator's page script",
          responses: { "200": { description: "JavaScript", content: { "text/javascript": {} } } },
        },
      },
      "/admin/admin.css": {
        get: {
          summary: "The operator's page style",
          responses: { "200": { description: "CSS", content: { "text/css": {} } } },
        },
      },
      "/healthz": {
        get: { summary: "Liveness", responses: { "200": { description: "The process runs" } } },
      },
      "/readyz": {
        get: {
          summary: "Readiness: the database answers",
          responses: { "200": { description: "Ready" }, "503": problem("service_unavailable") },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          description:
            "Every worker's series in one answer (each labelled `worker` when WORKERS > 1).",
          responses: {
            "200": { description: "Prometheus text format", content: { "text/plain": {} } },
          },
        },
      },
      "/openapi.json": {
        get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
      },
      "/docs": {
        get: { summary: "API reference page", responses: { "200": { description: "HTML" } } },
      },
    },
  };
}
