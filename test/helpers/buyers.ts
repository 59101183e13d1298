import { expect } from "bun:test";
import { SignJWT } from "jose";
import { admin, type Client, type Reply } from "./fixtures";
import type { TestContext } from "./harness";
import { holdCount as countHolds } from "./invariants";

export const SECRET = "buyer-secret-for-tests-0123456789abcdef";
export const ISSUER = "https://shop.example";
export const AUDIENCE = "flash-sale";
export const HS256 = {
  BUYER_JWT_SECRET: SECRET,
  BUYER_JWT_ISSUER: ISSUER,
  BUYER_JWT_AUDIENCE: AUDIENCE,
};

export const now = () => Math.floor(Date.now() / 1000);

type Claims = { sub?: string; exp?: number; iss?: string; aud?: string };

/** A buyer token signed as the shop signs them; claims left falsy are dropped. */
export async function hs256(claims: Claims = {}, secret = SECRET): Promise<string> {
  const payload = { iss: ISSUER, aud: AUDIENCE, exp: now() + 600, sub: "buyer-1", ...claims };
  const jwt = new SignJWT(Object.fromEntries(Object.entries(payload).filter(([, v]) => v)));
  return jwt.setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function limitedProduct(api: Client, stock: number, maxPerBuyer: number | null) {
  const created = await api.post(
    "/api/admin/products",
    { name: "Limited sneaker", price_cents: 100, stock, max_per_buyer: maxPerBuyer },
    admin,
  );
  expect(created.status).toBe(201);
  expect(created.body.max_per_buyer).toBe(maxPerBuyer);
  return created.body.id as number;
}

export const holdCount = (ctx: TestContext): Promise<number> => countHolds(ctx.sql);

export function expectUnauthorized(reply: Reply) {
  expect(reply.status).toBe(401);
  expect(reply.body.code).toBe("unauthorized");
  expect(reply.headers.get("www-authenticate")).toBe("Bearer");
  expect(reply.headers.get("content-type")).toBe("application/problem+json");
}
