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

/** `reply` is `status` with exactly this problem body (type about:blank, the status repeated). */
export function expectProblem(
  reply: { status: number; body: unknown },
  status: number,
  body: { title: string; code: string; detail: unknown } & Record<string, unknown>,
) {
  expect(reply.status).toBe(status);
  expect(reply.body).toEqual({ type: "about:blank", status, ...body });
}
