import { expect } from "bun:test";

/** A timestamp as the contract writes it: UTC, to the millisecond. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The whole RFC 9457 body the contract promises for `code` (title and detail free text). */
export function problem(code: string, status: number, extra: Record<string, unknown> = {}) {
  return {
    type: "about:blank",
    status,
    code,
    title: expect.any(String),
    detail: expect.any(String),
    ...extra,
  };
}
