import { expect } from "bun:test";

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
