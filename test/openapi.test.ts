import { describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config";
import { codeToStatus } from "../src/errors";
import { openApiDocument } from "../src/http/openapi";
import { requestSchemas } from "../src/http/schemas";

type Media = { schema?: unknown; example?: unknown };
type Operation = {
  operationId?: string;
  tags?: string[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, Media>; headers?: Record<string, unknown> }
  >;
};

const doc = openApiDocument(requestSchemas(parseConfig({}))) as unknown as {
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
};
const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ name: `${method} ${path}`, method, op })),
);

describe("the OpenAPI document, generated from the route declarations", () => {
  test("every operation has one of the document's tags, and every tag is used", () => {
    const tags = doc.tags.map((t) => t.name);
    expect(tags).toEqual([
      "shop",
      "payments",
      "admin",
      "operations",
      "metrics",
      "operator page",
      "documentation",
    ]);
    for (const { name, op } of operations) {
      expect(op.tags?.length, name).toBe(1);
      expect(tags, name).toContain(op.tags?.[0] as string);
    }
    expect(new Set(operations.map(({ op }) => op.tags?.[0]))).toEqual(new Set(tags));
  });

  test("every request body and every success response has an example", () => {
    for (const { name, op } of operations) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        expect(media.example, `${name} body ${type}`).toBeDefined();
      }
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^2/.test(status)) continue;
        for (const [type, media] of Object.entries(response.content ?? {})) {
          expect(media.example, `${name} ${status} ${type}`).toBeDefined();
        }
      }
    }
  });

  test("Problem.code is the enum of the contract's codes; each problem response lists its own", () => {
    expect(doc.components.schemas.Problem?.properties.code?.enum).toEqual(
      Object.keys(codeToStatus),
    );
    const createHold = doc.paths["/api/holds"]?.post;
    const conflict = createHold?.responses["409"]?.content?.["application/problem+json"];
    expect(JSON.stringify(conflict?.schema)).toContain('"enum":["insufficient_stock"');
    expect(conflict?.example).toMatchObject({ status: 409, code: "insufficient_stock" });
  });

  test("every operation documents the 500, and every response its X-Request-Id", () => {
    for (const { name, op } of operations) {
      const internal = op.responses["500"]?.content?.["application/problem+json"];
      expect(internal?.example, name).toMatchObject({ code: "internal_error", status: 500 });
      for (const [status, response] of Object.entries(op.responses)) {
        expect(Object.keys(response.headers ?? {}), `${name} ${status}`).toContain("X-Request-Id");
      }
    }
  });

  test("body refusals only where a body is read: no 400 or 415 on GETs", () => {
    for (const { name, method, op } of operations) {
      // A body may be optional (left out, it is `{}`), but one sent is always read.
      const readsBody = op.requestBody !== undefined;
      expect(op.responses["400"] !== undefined, name).toBe(readsBody);
      expect(op.responses["415"] !== undefined, name).toBe(readsBody);
      if (method === "get") expect(op.responses["413"], name).toBeUndefined();
    }
  });

  test("a 413 on every method that may send a body, with the bound it has: 256 KiB on Stripe's route, 16 KiB elsewhere", () => {
    for (const { name, method, op } of operations) {
      const tooLarge = op.responses["413"];
      expect([name, tooLarge !== undefined]).toEqual([name, method !== "get"]);
      if (tooLarge === undefined) continue;
      const bound = name === "post /api/payments/stripe" ? "256 KiB" : "16 KiB";
      expect([name, tooLarge.description]).toEqual([
        name,
        `payload_too_large: the body is over ${bound}`,
      ]);
    }
  });
});
