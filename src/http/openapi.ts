import { OpenAPIHono } from "@hono/zod-openapi";
import { adminRoutes } from "./routes/admin.routes";
import { opsRoutes } from "./routes/ops.routes";
import { paymentRoutes } from "./routes/payments.routes";
import { shopRoutes } from "./routes/shop.routes";
import type { RequestSchemas } from "./schemas";

/** Every route's declaration, by operationId: what the app serves, documents and types. */
export function declaredRoutes(schemas: RequestSchemas) {
  return {
    ...shopRoutes(schemas),
    ...paymentRoutes(schemas),
    ...adminRoutes(schemas),
    ...opsRoutes(),
  };
}

const headers: Record<string, { description: string; schema: Record<string, unknown> }> = {
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

const tags = [
  { name: "shop", description: "What a shopper's app calls: products, holds, orders" },
  { name: "payments", description: "The payment provider's signed webhook" },
  { name: "admin", description: "The operator's API (Authorization: Bearer <ADMIN_TOKEN>)" },
  { name: "operations", description: "Liveness and readiness probes" },
  { name: "metrics", description: "Prometheus scrapes" },
  { name: "operator page", description: "The operator's page and its assets" },
  { name: "documentation", description: "This document and the page that renders it" },
];

/**
 * The OpenAPI 3.1 document, generated from the route declarations (`routes/*.routes.ts`), whose
 * zod schemas also validate the requests and type the client.
 */
export function openApiDocument(schemas: RequestSchemas) {
  const app = new OpenAPIHono();
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN",
  });
  registry.registerComponent("securitySchemes", "buyer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A buyer token: HS256 (BUYER_JWT_SECRET) or RS256/ES256/EdDSA (BUYER_JWKS_URL), with exp and sub",
  });
  for (const [name, header] of Object.entries(headers)) {
    registry.registerComponent("headers", name, header);
  }
  registry.registerComponent("parameters", "RequestId", {
    name: "X-Request-Id",
    in: "header",
    required: false,
    description: "Your id for this request (1 to 200 of A-Z a-z 0-9 _ . : = -), echoed back",
    schema: { type: "string", pattern: "^[A-Za-z0-9_.:=-]{1,200}$" },
  });
  const requestId = { $ref: "#/components/parameters/RequestId" };
  for (const route of Object.values(declaredRoutes(schemas))) {
    registry.registerPath({ ...route, parameters: [requestId] });
  }
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "flash-sale",
      version: "0.1.0",
      description: "Sells limited stock in a flash sale without overselling.",
      license: { name: "MIT" },
    },
    servers: [{ url: "/", description: "The service that serves this document" }],
    tags,
  });
  // The SPDX identifier is OpenAPI 3.1's (openapi3-ts types only 3.0's license object).
  Object.assign(document.info.license ?? {}, { identifier: "MIT" });
  return document;
}
