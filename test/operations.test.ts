import { beforeAll, describe, expect, test } from "bun:test";
import Stripe from "stripe";
import { createApp } from "../src/app";
import { reserveHolds } from "../src/services/hold-pipeline/batch";
import { useTestApp } from "./helpers/apps";
import { admin, captureLogs, createProduct, patience, webhookHeaders } from "./helpers/fixtures";
import { ADMIN_TOKEN } from "./helpers/harness";

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  enum?: unknown[];
  additionalProperties?: boolean;
};
type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: { "application/json": { schema: { $ref: string } } } };
  responses: Record<string, unknown>;
};
type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

const STRIPE_WEBHOOK_SECRET = "whsec_operations_test_secret";
const { ctx, api } = useTestApp({ STRIPE_WEBHOOK_SECRET });
let doc: OpenApi;

beforeAll(async () => {
  doc = (await api.get("/openapi.json")).body as unknown as OpenApi;
});

/** The smallest value a schema accepts. */
function validExample(schema: Schema): unknown {
  if (schema.enum) return schema.enum[0];
  if (schema.type === "object") {
    return Object.fromEntries(
      Object.entries(schema.properties ?? {}).map(([k, v]) => [k, validExample(v)]),
    );
  }
  if (schema.type === "integer" || schema.type === "number") return schema.minimum ?? 1;
  if (schema.type === "string") return "x".repeat(Math.max(schema.minLength ?? 1, 1));
  return null;
}

/** Values the schema refuses, each with the field it breaks. */
function invalidExamples(schema: Schema): { field: string; body: Record<string, unknown> }[] {
  const valid = validExample(schema) as Record<string, unknown>;
  const bad: { field: string; body: Record<string, unknown> }[] = [];
  for (const [field, property] of Object.entries(schema.properties ?? {})) {
    if (schema.required?.includes(field)) {
      const { [field]: _, ...rest } = valid;
      bad.push({ field, body: rest });
    }
    if (property.type === "integer") {
      bad.push({ field, body: { ...valid, [field]: String(valid[field]) } });
      bad.push({ field, body: { ...valid, [field]: 1.5 } });
      if (property.maximum !== undefined)
        bad.push({ field, body: { ...valid, [field]: property.maximum + 1 } });
    }
    if (property.enum) bad.push({ field, body: { ...valid, [field]: "not-a-member" } });
    if ([property.type].flat().includes("string") && !property.enum) {
      bad.push({ field, body: { ...valid, [field]: 5 } });
      if (property.maxLength !== undefined)
        bad.push({ field, body: { ...valid, [field]: "x".repeat(property.maxLength + 1) } });
    }
  }
  if (schema.additionalProperties === false)
    bad.push({ field: "extra", body: { ...valid, extra: 1 } });
  return bad;
}

const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");
const concrete = (path: string) => path.replace(/\{\w+\}/g, "1");

describe("OpenAPI document", () => {
  test("is OpenAPI 3.1 with every route the app serves, and nothing it does not", () => {
    expect(doc.openapi).toBe("3.1.0");
    const served = new Set(
      ctx.app.routes
        .filter((r) => r.method !== "ALL" && !r.path.includes("*")) // middleware, not routes
        .map((r) => `${r.method} ${toOpenApiPath(r.path)}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    expect([...documented].sort()).toEqual([...served].sort());
  });

  test("every route with a body documents it, with the problem schema for errors", () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        // Joining a waiting room ("(no body)") and redelivering an event (the contract gives it
        // none) are the POSTs that take no body, and ignore one sent.
        const bodiless = ["/api/products/{id}/queue", "/api/admin/events/{id}/redeliver"];
        if (method === "post" && !bodiless.includes(path)) {
          expect(op.requestBody, `${method} ${path}`).toBeDefined();
        }
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      }
    }
    expect(doc.components.schemas.Problem?.required).toEqual([
      "type",
      "title",
      "status",
      "code",
      "detail",
    ]);
  });

  test("what the document calls valid passes validation; what it calls invalid gets 422", async () => {
    // Webhooks are signed, so that their body's validation is what answers.
    const signed = async (url: string, payload: string): Promise<Record<string, string>> => {
      if (url === "/api/payments/webhook") return webhookHeaders(payload);
      if (url !== "/api/payments/stripe") return {};
      const secret = STRIPE_WEBHOOK_SECRET;
      const header = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret });
      return { "stripe-signature": header };
    };
    const post = async (url: string, body: object) =>
      api.post(url, body, { ...admin, ...(await signed(url, JSON.stringify(body))) });
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.post;
      const ref = op?.requestBody?.content["application/json"].schema.$ref;
      if (!ref) continue;
      const schema = doc.components.schemas[ref.split("/").pop() ?? ""] as Schema;
      const url = concrete(path);
      const ok = await post(url, validExample(schema) as object);
      expect(ok.body.code, `${url} valid`).not.toBe("validation_failed");
      const invalid = invalidExamples(schema);
      expect(invalid.length).toBeGreaterThanOrEqual(3);
      for (const { field, body } of invalid) {
        const refused = await post(url, body);
        expect(refused.status, `${url} ${field} ${JSON.stringify(body)}`).toBe(422);
        expect(refused.body.code).toBe("validation_failed");
      }
    }
  });

  test("/docs renders the document", async () => {
    const res = await api.raw("/docs", {});
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("/openapi.json");
  });
});

describe("metrics", () => {
  async function scrape(): Promise<Map<string, number>> {
    const res = await api.raw("/metrics", {});
    expect(res.headers.get("content-type")).toContain("text/plain");
    const samples = new Map<string, number>();
    // prom-client writes NaN as "Nan"; Prometheus parses the special values case-insensitively.
    for (const line of (await res.text()).split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|[+-]?Inf|NaN)$/i.exec(
        line,
      );
      expect(match, `not Prometheus text: ${line}`).not.toBeNull();
      if (match?.[1] && match[2]) samples.set(match[1], Number(match[2]));
    }
    return samples;
  }

  test("parses as Prometheus text and its counters move when holds are made", async () => {
    const productId = await createProduct(api, 2);
    const before = await scrape();
    await api.post("/api/holds", { product_id: productId, qty: 1 });
    await api.post("/api/holds", { product_id: productId, qty: 1 });
    await api.post("/api/holds", { product_id: productId, qty: 1 });
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta("holds_granted_total")).toBe(2);
    expect(delta('http_requests_total{method="POST",route="/api/holds",status="409"}')).toBe(1);
    expect(delta('holds_refused_total{reason="insufficient_stock"}')).toBe(1);
    expect(
      delta('http_request_duration_seconds_count{method="POST",route="/api/holds",status="201"}'),
    ).toBe(2);
    expect(after.has("hold_batch_size_count")).toBe(true);
  });

  test("requests are labelled by route pattern, unknown paths as unmatched", async () => {
    const before = await scrape();
    await api.get("/api/products/987654321");
    await api.get("/api/products/abc");
    await api.get("/no/such/path");
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('http_requests_total{method="GET",route="/api/products/:id",status="404"}')).toBe(
      1,
    );
    expect(delta('http_requests_total{method="GET",route="/api/products/:id",status="422"}')).toBe(
      1,
    );
    expect(delta('http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
  });
});

/** A logger at info whose JSON lines land in an array. */
describe("logs", () => {
  test("one JSON line per request carries the request id; no secret is logged", async () => {
    const { lines, logger } = captureLogs();
    const app = createApp({ ...ctx.deps, logger });
    await app.request("/api/products/1", { headers: { "x-request-id": "trace-me-42" } });
    await app.request("/api/admin/products", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Logged", price_cents: 1, stock: 1 }),
    });
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((e) => e.requestId === "trace-me-42")).toMatchObject({
      msg: "request",
      route: "/api/products/:id",
      method: "GET",
    });
    expect(lines.join("\n")).not.toContain(ADMIN_TOKEN);
  });

  test("selling out is logged once, with the product", async () => {
    const { lines, logger } = captureLogs();
    const productId = await createProduct(api, 2);
    const deps = { ...ctx.deps, logger };
    await reserveHolds(deps, [{ productId, qty: 1, buyer: null, deadline: patience() }]);
    await reserveHolds(deps, [{ productId, qty: 1, buyer: null, deadline: patience() }]);
    await reserveHolds(deps, [{ productId, qty: 1, buyer: null, deadline: patience() }]);
    const soldOut = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.productId === productId);
    expect(soldOut).toHaveLength(1);
    expect(soldOut[0]).toMatchObject({ level: 30, msg: expect.stringContaining("sold out") });
  });
});
