// Writes client/api.ts: the API's types for Hono's client, from the route declarations, so that
// the client needs nothing of the service. `bun run client:types`; test/client.test.ts fails
// when the file is not what this script would write.
import { writeFileSync } from "node:fs";
import type { RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";
import { parseConfig } from "../src/config";
import { declaredRoutes } from "../src/http/openapi";
import { Problem, requestSchemas } from "../src/http/schemas";

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
};

const scalar: Record<string, string> = {
  string: "string",
  number: "number",
  integer: "number",
  boolean: "boolean",
  null: "null",
};

/** A TypeScript type for a JSON Schema, as zod writes them (`$defs` for shared parts). */
function typeOf(schema: JsonSchema, defs: Record<string, JsonSchema>, indent: string): string {
  if (schema.$ref) {
    const name = schema.$ref.replace("#/$defs/", "");
    const target = defs[name];
    if (!target) throw new Error(`unresolved ${schema.$ref}`);
    return typeOf(target, defs, indent);
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map((s) => typeOf(s, defs, indent)).join(" | ");
  if (schema.allOf) return schema.allOf.map((s) => typeOf(s, defs, indent)).join(" & ");
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return "unknown";
  return types
    .map((type) => {
      if (type === "array") return `${wrap(typeOf(schema.items ?? {}, defs, indent))}[]`;
      if (type === "object") return objectOf(schema, defs, indent);
      const name = scalar[type];
      if (!name) throw new Error(`no TypeScript type for ${type}`);
      return name;
    })
    .join(" | ");
}

const wrap = (type: string) => (/[|&]/.test(type) ? `(${type})` : type);

function objectOf(schema: JsonSchema, defs: Record<string, JsonSchema>, indent: string): string {
  const inner = `${indent}  `;
  const required = new Set(schema.required ?? []);
  const lines = Object.entries(schema.properties ?? {}).map(([key, value]) => {
    const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
    return `${inner}${name}${required.has(key) ? "" : "?"}: ${typeOf(value, defs, inner)};`;
  });
  const extra = schema.additionalProperties;
  if (typeof extra === "object") {
    lines.push(`${inner}[key: string]: ${typeOf(extra, defs, inner)};`);
  }
  return lines.length === 0 ? "{}" : `{\n${lines.join("\n")}\n${indent}}`;
}

function tsType(schema: z.ZodType, io: "input" | "output", indent: string): string {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return typeOf(json, json.$defs ?? {}, indent);
}

const honoPath = (path: string) => path.replaceAll(/\/{(\w+)}/g, "/:$1");

/** The `input` of an endpoint: its path parameters, query, headers and JSON body. */
function inputOf(route: RouteConfig): string {
  const { params, query, headers, body } = route.request ?? {};
  const parts: string[] = [];
  const part = (name: string, schema: unknown, optional: boolean) => {
    if (!(schema instanceof z.ZodType)) return;
    parts.push(`  ${name}${optional ? "?" : ""}: ${tsType(schema, "input", "  ")};`);
  };
  part("param", params, false);
  // Every query parameter and request header here is optional, and so is the part.
  part("query", query, true);
  part("header", headers, true);
  // A body not required may be left out (the route then reads `{}`).
  const media = body?.content["application/json"];
  if (media && "schema" in media) part("json", media.schema, body?.required !== true);
  return parts.length === 0 ? "{}" : `{\n${parts.join("\n")}\n}`;
}

/** What `res.json()` (or `res.text()`) gives for one declared status, and in which format. */
function outputOf(response: RouteConfig["responses"][string]): { type: string; format: string } {
  const content = "content" in response ? (response.content ?? {}) : {};
  const [mediaType, media] = Object.entries(content)[0] ?? [];
  if (!media || !("schema" in media) || !(media.schema instanceof z.ZodType)) {
    return { type: '""', format: "text" };
  }
  if (mediaType === "application/problem+json" && media.schema instanceof z.ZodObject) {
    const code = media.schema.shape.code;
    if (!(code instanceof z.ZodEnum)) throw new Error("a problem response without its codes");
    const codes = code.options.map((c) => JSON.stringify(c)).join(" | ");
    return { type: `Problem<${codes}>`, format: "json" };
  }
  if (mediaType === "application/json") {
    return { type: tsType(media.schema, "output", ""), format: "json" };
  }
  return { type: "string", format: "text" };
}

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

export function clientTypes(): string {
  const routes = declaredRoutes(requestSchemas(parseConfig({})));
  const types: string[] = [];
  const byPath = new Map<string, string[]>();
  for (const [operationId, route] of Object.entries(routes) as [string, RouteConfig][]) {
    const name = pascal(operationId);
    types.push(`/** ${route.method.toUpperCase()} ${route.path}: what it takes. */`);
    types.push(`export type ${name}Request = ${inputOf(route)};`, "");
    const endpoints = Object.entries(route.responses).map(([status, response]) => {
      const { type, format } = outputOf(response);
      types.push(`export type ${name}${status} = ${type};`, "");
      return `      | { input: ${name}Request; output: ${name}${status}; outputFormat: "${format}"; status: ${status} }`;
    });
    const path = honoPath(route.path);
    const methods = byPath.get(path) ?? [];
    methods.push(`    $${route.method}:\n${endpoints.join("\n")};`);
    byPath.set(path, methods);
  }
  const paths = [...byPath].map(([path, methods]) => `  "${path}": {\n${methods.join("\n")}\n  };`);
  return [
    "// Generated by scripts/client-types.ts from the route declarations in src/http/routes/.",
    "// Do not edit: run `bun run client:types` after changing a route.",
    'import type { Hono } from "hono";',
    "",
    "/** A problem document (RFC 9457) whose `code` is one of `Code`. */",
    `export type Problem<Code extends ErrorCode = ErrorCode> = Omit<ProblemDocument, "code"> & { code: Code };`,
    "",
    `export type ErrorCode = ${tsType(Problem.shape.code, "output", "")};`,
    "",
    `type ProblemDocument = ${tsType(Problem, "output", "")};`,
    "",
    ...types,
    "/** Every route: its input and, per status, the body it answers (Hono's schema shape). */",
    "export type ApiSchema = {",
    ...paths,
    "};",
    "",
    "/** The API as a Hono app type, for `hc`. */",
    'export type Api = Hono<{}, ApiSchema, "/">;',
    "",
  ].join("\n");
}

if (import.meta.main) {
  const target = new URL("../client/api.ts", import.meta.url);
  writeFileSync(target, clientTypes());
  console.log(`wrote ${target.pathname}`);
}
