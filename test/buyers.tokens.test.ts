import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { closeDeps } from "../src/deps";
import { useTestApp } from "./helpers/apps";
import {
  AUDIENCE,
  bearer,
  expectUnauthorized,
  HS256,
  holdCount,
  hs256,
  ISSUER,
  limitedProduct,
  now,
} from "./helpers/buyers";
import { type Client, client } from "./helpers/fixtures";
import { buildTestApp, createTestContext, type TestContext } from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("buyer tokens (HS256, issuer and audience checked)", () => {
  const { ctx, api } = useTestApp(HS256);
  let productId: number;

  beforeAll(async () => {
    productId = await limitedProduct(api, 1000, null);
  });

  test("a valid token: the hold and its order carry the buyer", async () => {
    const token = await hs256({ sub: "alice@example" });
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(token));
    expect(hold.status).toBe(201);
    expect(hold.body.buyer_id).toBe("alice@example");
    const order = await api.post("/api/orders", { hold_id: hold.body.hold_id }, bearer(token));
    expect(order.status).toBe(201);
    expect(order.body.buyer_id).toBe("alice@example");
    expect((await api.get(`/api/orders/${order.body.order_id}`, bearer(token))).status).toBe(200);
  });

  test("each shopper call verifies its token once, whichever way it identifies the buyer", async () => {
    const token = await hs256({ sub: "counted" });
    const verifier = ctx.deps.buyers;
    const verify = verifier.verify;
    let calls = 0;
    verifier.verify = (authorization) => {
      calls++;
      return verify(authorization);
    };
    try {
      const hold = await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(token));
      const order = await api.post("/api/orders", { hold_id: hold.body.hold_id }, bearer(token));
      const counted: [string, () => Promise<unknown>][] = [
        ["GET /api/holds", () => api.get("/api/holds", bearer(token))],
        ["GET /api/holds/:id", () => api.get(`/api/holds/${hold.body.hold_id}`, bearer(token))],
        ["GET /api/orders", () => api.get("/api/orders", bearer(token))],
        ["GET /api/orders/:id", () => api.get(`/api/orders/${order.body.order_id}`, bearer(token))],
        [
          "POST queue",
          () => api.post(`/api/products/${productId}/queue`, undefined, bearer(token)),
        ],
        ["GET queue", () => api.get(`/api/products/${productId}/queue`, bearer(token))],
        [
          "POST /api/holds",
          () => api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(token)),
        ],
      ];
      const seen: Record<string, number> = {};
      for (const [name, call] of counted) {
        calls = 0;
        await call();
        seen[name] = calls;
      }
      expect(seen).toEqual(Object.fromEntries(counted.map(([name]) => [name, 1])));
    } finally {
      verifier.verify = verify;
    }
  });

  test("product reads need no token", async () => {
    const product = await api.get(`/api/products/${productId}`);
    expect(product.status).toBe(200);
    expect(product.body.max_per_buyer).toBeNull();
  });

  test("exp within the 30 s leeway is accepted; a 128-character sub is accepted", async () => {
    const late = await hs256({ exp: now() - 10 });
    expect(
      (await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(late))).status,
    ).toBe(201);
    const long = await hs256({ sub: "b".repeat(128) });
    const held = await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(long));
    expect(held.status).toBe(201);
    expect(held.body.buyer_id).toBe("b".repeat(128));
  });

  test("a sub beyond the BMP (surrogate pairs, well-formed) is accepted and kept as it is", async () => {
    const sub = "shopper-\u{1F45F}-\u{1F680}";
    const token = await hs256({ sub });
    const held = await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(token));
    expect(held.status).toBe(201);
    expect(held.body.buyer_id).toBe(sub);
    expect((await api.get(`/api/holds/${held.body.hold_id}`, bearer(token))).status).toBe(200);
  });

  const hostile: [string, () => Promise<Record<string, string>>][] = [
    ["no Authorization header", async () => ({})],
    ["a Basic credential", async () => ({ authorization: "Basic YWxpY2U6cHc=" })],
    ["Bearer with nothing after it", async () => ({ authorization: "Bearer " })],
    ["garbage", async () => bearer("not.a.jwt")],
    [
      "the wrong secret",
      async () => bearer(await hs256({}, "another-secret-0123456789abcdef0123")),
    ],
    ["exp beyond the leeway", async () => bearer(await hs256({ exp: now() - 60 }))],
    ["no exp", async () => bearer(await hs256({ exp: 0 }))],
    ["no sub", async () => bearer(await hs256({ sub: "" }))],
    ["a sub of 129 characters", async () => bearer(await hs256({ sub: "c".repeat(129) }))],
    // Stored, a lone surrogate becomes U+FFFD: three such subs would be one buyer to the
    // database and three to the limit's count.
    ["a sub with a lone high surrogate", async () => bearer(await hs256({ sub: "\ud800" }))],
    ["a sub with a lone low surrogate", async () => bearer(await hs256({ sub: "x\udfffy" }))],
    ["the wrong issuer", async () => bearer(await hs256({ iss: "https://evil.example" }))],
    ["the wrong audience", async () => bearer(await hs256({ aud: "someone-else" }))],
    [
      "alg: none",
      async () =>
        bearer(
          `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "mallory", exp: now() + 600, iss: ISSUER, aud: AUDIENCE })}.`,
        ),
    ],
    [
      "a stripped signature",
      async () => {
        const [header, payload] = (await hs256()).split(".");
        return bearer(`${header}.${payload}.`);
      },
    ],
    [
      "a tampered payload",
      async () => {
        const [header, , signature] = (await hs256({ sub: "alice" })).split(".");
        const forged = b64({ sub: "mallory", exp: now() + 600, iss: ISSUER, aud: AUDIENCE });
        return bearer(`${header}.${forged}.${signature}`);
      },
    ],
  ];

  test.each(hostile)(
    "%s → 401 unauthorized, nothing written, on every shopper route",
    async (_name, headers) => {
      const before = await holdCount(ctx);
      const h = await headers();
      for (const reply of [
        await api.post("/api/holds", { product_id: productId, qty: 1 }, h),
        await api.get("/api/holds/1", h),
        await client(ctx.app)
          .raw("/api/holds/1", { method: "DELETE", headers: h })
          .then(async (r) => ({
            status: r.status,
            body: (await r.json()) as Record<string, unknown>,
            headers: r.headers,
          })),
        await api.post("/api/orders", { hold_id: 1 }, h),
        await api.get("/api/orders/1", h),
      ]) {
        expectUnauthorized(reply);
      }
      expect(await holdCount(ctx)).toBe(before);
    },
  );
});

describe("buyer tokens from a JWKS (RS256, ES256, EdDSA)", () => {
  let ctx: TestContext;
  let api: Client;
  let productId: number;
  let jwksServer: ReturnType<typeof Bun.serve>;
  let fetches = 0;
  const keys: JWK[] = [];
  const signers = new Map<string, CryptoKey>();

  async function addKey(alg: "RS256" | "ES256" | "EdDSA", kid: string) {
    const pair = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
    keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg });
    signers.set(kid, pair.privateKey as CryptoKey);
  }
  const sign = (alg: string, kid: string, sub: string) => {
    const key = signers.get(kid);
    if (!key) throw new Error(`no key ${kid}`);
    return new SignJWT({ sub }).setProtectedHeader({ alg, kid }).setExpirationTime("10m").sign(key);
  };

  beforeAll(async () => {
    await addKey("RS256", "rsa-1");
    await addKey("ES256", "ec-1");
    await addKey("EdDSA", "ed-1");
    jwksServer = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        fetches++;
        return Response.json({ keys });
      },
    });
    ctx = await createTestContext({ BUYER_JWKS_URL: `http://127.0.0.1:${jwksServer.port}/jwks` });
    api = client(ctx.app);
    productId = await limitedProduct(api, 1000, null);
  });
  afterAll(async () => {
    await jwksServer.stop(true);
    await ctx.close();
  });

  test.each([
    ["RS256", "rsa-1"],
    ["ES256", "ec-1"],
    ["EdDSA", "ed-1"],
  ])("%s tokens are accepted", async (alg, kid) => {
    const token = await sign(alg, kid, `buyer-${alg}`);
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(token));
    expect(hold.status).toBe(201);
    expect(hold.body.buyer_id).toBe(`buyer-${alg}`);
  });

  test("an unknown kid fetches the key set again: a rotated-in key works, a foreign one is 401", async () => {
    const before = fetches;
    // jose refetches for an unknown kid at most once a second.
    await Bun.sleep(1100);
    await addKey("ES256", "ec-2");
    const rotated = await sign("ES256", "ec-2", "buyer-rotated");
    expect(
      (await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(rotated))).status,
    ).toBe(201);
    expect(fetches).toBeGreaterThan(before);

    const stranger = await generateKeyPair("ES256");
    const foreign = await new SignJWT({ sub: "mallory" })
      .setProtectedHeader({ alg: "ES256", kid: "nobody-knows" })
      .setExpirationTime("10m")
      .sign(stranger.privateKey);
    await Bun.sleep(1100);
    expectUnauthorized(
      await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(foreign)),
    );
  });

  test("HS256 is refused when only a JWKS is configured", async () => {
    expectUnauthorized(
      await api.post("/api/holds", { product_id: productId, qty: 1 }, bearer(await hs256())),
    );
  });

  /** A hold with a valid token, through an app whose key server fails: 503, nothing written. */
  async function expectKeyServerFailure(jwksUrl: string) {
    const failing = buildTestApp(ctx.url, { BUYER_JWKS_URL: jwksUrl });
    try {
      const before = await holdCount(ctx);
      const token = await sign("RS256", "rsa-1", "buyer-key-server-failing");
      const reply = await client(failing.app).post(
        "/api/holds",
        { product_id: productId, qty: 1 },
        bearer(token),
      );
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe("service_unavailable");
      expect(reply.headers.get("retry-after")).toBe("1");
      expect(await holdCount(ctx)).toBe(before);
    } finally {
      await closeDeps(failing.deps);
    }
  }

  test("a JWKS server that is down: 503 with Retry-After, never 500, nothing written", async () => {
    await expectKeyServerFailure(`http://127.0.0.1:${await freePort()}/jwks`);
  });

  test.each([
    ["a 500", () => new Response("oops", { status: 500 })],
    ["a 302 elsewhere", () => new Response(null, { status: 302, headers: { location: "/x" } })],
    ["HTML instead of JSON", () => new Response("<html>maintenance</html>", { status: 200 })],
    ["JSON that is not a key set", () => Response.json({ hello: "world" })],
  ])(
    "a JWKS server answering %s: 503 with Retry-After, not 401, nothing written",
    async (_name, answer) => {
      const broken = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: answer });
      try {
        await expectKeyServerFailure(`http://127.0.0.1:${broken.port}/jwks`);
      } finally {
        await broken.stop(true);
      }
    },
  );
});
