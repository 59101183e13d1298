// The zod schemas the routes declare and validate with, a file per kind: fields.ts (ids, text,
// timestamps every other file builds on), queries.ts (paging, filters, the Idempotency-Key
// header), bodies.ts (request bodies, with requestSchemas for those that read the
// configuration, and the hot path's quick hold check), responses.ts (what the API answers).

export * from "./bodies";
export * from "./fields";
export * from "./queries";
export * from "./responses";
