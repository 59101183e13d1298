import { z } from "zod";
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
const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});
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
  "413": problem("Body over 16 KiB (payload_too_large)"),
  "415": problem("Body is not application/json (unsupported_media_type)"),
  "422": problem("Invalid field (validation_failed)"),
  "503": problem("Database unreachable or too busy (service_unavailable)"),
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

/** The OpenAPI 3.1 document, built from the same zod schemas that validate requests. */
export function openApiDocument(schemas: s.RequestSchemas) {
  return {
    openapi: "3.1.0",
    info: {
      title: "flash-sale",
      version: "0.1.0",
      description: "Sells limited stock in a flash sale without overselling.",
    },
    components: {
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
        Product: schema(s.Product),
        Hold: schema(s.Hold),
        Order: schema(s.Order),
        WebhookResult: schema(s.WebhookResult),
        Problem: schema(s.Problem),
        ProductReportPage: schema(s.ProductReportPage),
        PaymentConflictPage: schema(s.PaymentConflictPage),
      },
    },
    paths: {
      "/api/products/{id}": {
        get: {
          summary: "Read a product and its available stock (cached)",
          parameters: [idParam("product")],
          responses: {
            "200": ok("The product", "Product"),
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
                "text/event-stream of `event: stock`, `id: <version>`, `data: <the product as GET returns it>`; a comment every 15 s",
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
              "insufficient_stock, buyer_limit_exceeded (with limit and used) or idempotency_key_in_progress",
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
            "Payment provider event (Standard Webhooks signature when WEBHOOK_SECRET is set)",
          requestBody: body("PaymentEventInput"),
          responses: {
            "200": ok("Applied, duplicate or recorded against a final order", "WebhookResult"),
            "202": ok("Deferred: the order does not exist yet", "WebhookResult"),
            "401": problem("invalid_signature"),
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
          summary: "Rename a product or change its per-buyer limit (existing holds are kept)",
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
          parameters: pageParams,
          responses: {
            "200": ok("A page of conflicts", "PaymentConflictPage"),
            "401": problem("unauthorized"),
            "422": problem("Invalid limit or after_id (validation_failed)"),
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
