import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { closeDeps } from "../src/deps";
import { cancelUnpaidOrders } from "../src/services/orders";
import { findBuyerLimitBreaches } from "../src/services/reconcile";
import { admin, type Client, client, countBy, patience, type Reply } from "./fixtures";
import {
  buildTestApp,
  createTestContext,
  invariantViolations,
  rows,
  type TestContext,
} from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";
import { type ServerProcess, startServer } from "./helpers/processes";

const SECRET = "buyer-secret-for-tests-0123456789abcdef";
const ISSUER = "https://shop.example";
const AUDIENCE = "flash-sale";
const HS256 = {
  BUYER_JWT_SECRET: SECRET,
  BUYER_JWT_ISSUER: ISSUER,
  BUYER_JWT_AUDIENCE: AUDIENCE,
};

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

type Claims = { sub?: string; exp?: number; iss?: string; aud?: string };

async function hs256(claims: Claims = {}, secret = SECRET): Promise<string> {
  const payload = { iss: ISSUER, aud: AUDIENCE, exp: now() + 600, sub: "buyer-1", ...claims };
  const jwt = new SignJWT(Object.fromEntries(Object.entries(payload).filter(([, v]) => v)));
  return jwt.setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function limitedProduct(api: Client, stock: number, maxPerBuyer: number | null) {
  const created = await api.post(
    "/api/admin/products",
    { name: "Limited sneaker", price_cents: 100, stock, max_per_buyer: maxPerBuyer },
    admin,
  );
  expect(created.status).toBe(201);
  expect(created.body.max_per_buyer).toBe(maxPerBuyer);
  return created.body.id as number;
}

async function holdCount(ctx: TestContext): Promise<number> {
  return Number((await rows<{ n: number }>(ctx.sql, "SELECT COUNT(*) AS n FROM holds"))[0]?.n);
}

function expectUnauthorized(reply: Reply) {
  expect(reply.status).toBe(401);
  expect(reply.body.code).toBe("unauthorized");
  expect(reply.headers.get("www-authenticate")).toBe("Bearer");
  expect(reply.headers.get("content-type")).toBe("application/problem+json");
}

describe("buyer tokens (HS256, issuer and audience checked)", () => {
  let ctx: TestContext;
  let api: Client;
  let productId: number;

  beforeAll(async () => {
    ctx = await createTestContext(HS256);
    api = client(ctx.app);
    productId = await limitedProduct(api, 1000, null);
  });
  afterAll(() => ctx.close());

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

describe("each buyer sees only their own", () => {
  let ctx: TestContext;
  let api: Client;
  let productId: number;

  beforeAll(async () => {
    ctx = await createTestContext(HS256);
    api = client(ctx.app);
    productId = await limitedProduct(api, 100, null);
  });
  afterAll(() => ctx.close());

  test("another buyer's hold or order is 404 for reading, releasing and ordering", async () => {
    const alice = bearer(await hs256({ sub: "alice" }));
    const bob = bearer(await hs256({ sub: "bob" }));
    const hold = await api.post("/api/holds", { product_id: productId, qty: 2 }, alice);
    const holdId = hold.body.hold_id as number;
    const other = await api.post("/api/holds", { product_id: productId, qty: 1 }, alice);

    expect((await api.get(`/api/holds/${holdId}`, bob)).body.code).toBe("hold_not_found");
    const release = await api.raw(`/api/holds/${holdId}`, { method: "DELETE", headers: bob });
    expect(release.status).toBe(404);
    const stolen = await api.post("/api/orders", { hold_id: holdId }, bob);
    expect(stolen.status).toBe(404);
    expect(stolen.body.code).toBe("hold_not_found");
    expect((await api.get(`/api/holds/${holdId}`, alice)).body.status).toBe("active");

    const order = await api.post("/api/orders", { hold_id: holdId }, alice);
    expect(order.status).toBe(201);
    const orderId = order.body.order_id as number;
    expect((await api.get(`/api/orders/${orderId}`, bob)).body.code).toBe("order_not_found");
    expect((await api.get(`/api/orders/${orderId}`, alice)).status).toBe(200);
    const released = await api.raw(`/api/holds/${other.body.hold_id}`, {
      method: "DELETE",
      headers: alice,
    });
    expect(released.status).toBe(200);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("the same Idempotency-Key from two buyers makes two holds; from one buyer, one", async () => {
    const key = { "idempotency-key": "same-key-for-everyone" };
    const alice = { ...bearer(await hs256({ sub: "alice-k" })), ...key };
    const bob = { ...bearer(await hs256({ sub: "bob-k" })), ...key };
    const [a, b, again] = [
      await api.post("/api/holds", { product_id: productId, qty: 1 }, alice),
      await api.post("/api/holds", { product_id: productId, qty: 1 }, bob),
      await api.post("/api/holds", { product_id: productId, qty: 1 }, alice),
    ];
    expect([a.status, b.status, again.status]).toEqual([201, 201, 201]);
    expect(a.body.hold_id).not.toBe(b.body.hold_id);
    expect(again.body.hold_id).toBe(a.body.hold_id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.buyer_id).toBe("bob-k");
  });
});

describe("per-buyer limits", () => {
  let ctx: TestContext;
  let api: Client;

  beforeAll(async () => {
    ctx = await createTestContext({ ...HS256, HOLD_TTL_SECONDS: "60" });
    api = client(ctx.app);
  });
  afterAll(() => ctx.close());

  const as = async (sub: string) => bearer(await hs256({ sub }));

  test("a hold past the limit is 409 buyer_limit_exceeded with limit and used", async () => {
    const productId = await limitedProduct(api, 100, 3);
    const me = await as("limit-1");
    expect((await api.post("/api/holds", { product_id: productId, qty: 2 }, me)).status).toBe(201);
    const over = await api.post("/api/holds", { product_id: productId, qty: 2 }, me);
    expect(over.status).toBe(409);
    expect(over.body).toEqual({
      type: "about:blank",
      title: "Buyer limit exceeded",
      status: 409,
      code: "buyer_limit_exceeded",
      detail: expect.any(String),
      limit: 3,
      used: 2,
    });
    expect((await api.post("/api/holds", { product_id: productId, qty: 1 }, me)).status).toBe(201);
    const other = await api.post(
      "/api/holds",
      { product_id: productId, qty: 3 },
      await as("limit-2"),
    );
    expect(other.status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("release, expiry, a failed payment and a payment timeout give units back", async () => {
    const productId = await limitedProduct(api, 100, 2);
    const me = await as("giver");
    const hold = async () => api.post("/api/holds", { product_id: productId, qty: 2 }, me);
    const refused = async () => expect((await hold()).body.code).toBe("buyer_limit_exceeded");

    // release
    const first = await hold();
    await refused();
    await api.raw(`/api/holds/${first.body.hold_id}`, { method: "DELETE", headers: me });
    // expiry, before any sweeper: the buyer's own request reclaims it
    const second = await hold();
    expect(second.status).toBe(201);
    await refused();
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", [
      second.body.hold_id,
    ]);
    // failed payment
    const third = await hold();
    expect(third.status).toBe(201);
    const order = await api.post("/api/orders", { hold_id: third.body.hold_id }, me);
    await refused();
    const failed = await api.webhook({
      idempotency_key: `fail-${order.body.order_id}`,
      order_id: order.body.order_id,
      status: "failed",
    });
    expect(failed.body.order_status).toBe("cancelled");
    // payment timeout
    const fourth = await hold();
    expect(fourth.status).toBe(201);
    const unpaid = await api.post("/api/orders", { hold_id: fourth.body.hold_id }, me);
    await refused();
    await ctx.sql.query("UPDATE orders SET created_at = NOW(3) - INTERVAL 2 HOUR WHERE id = ?", [
      unpaid.body.order_id,
    ]);
    expect(await cancelUnpaidOrders(ctx.deps, 100, patience())).toBe(1);
    expect((await hold()).status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("lowering a limit keeps existing holds; new holds meet the new limit", async () => {
    const productId = await limitedProduct(api, 100, 3);
    const me = await as("lowered");
    const held = await api.post("/api/holds", { product_id: productId, qty: 3 }, me);
    expect(held.status).toBe(201);
    const patched = await api.raw(`/api/admin/products/${productId}`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ max_per_buyer: 1, name: "Renamed sneaker" }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ max_per_buyer: 1, name: "Renamed sneaker" });
    expect((await api.get(`/api/holds/${held.body.hold_id}`, me)).body.status).toBe("active");
    const more = await api.post("/api/holds", { product_id: productId, qty: 1 }, me);
    expect(more.body).toMatchObject({ code: "buyer_limit_exceeded", limit: 1, used: 3 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
    expect(await findBuyerLimitBreaches(ctx.deps)).toEqual([]);
  });

  test("the reconciliation reports a buyer over the limit (a row forced past it)", async () => {
    const productId = await limitedProduct(api, 100, 1);
    await ctx.sql.query(
      "INSERT INTO holds (product_id, buyer_id, qty, status, expires_at) VALUES (?, 'forced', 5, 'active', NOW(3) + INTERVAL 1 HOUR)",
      [productId],
    );
    await ctx.sql.query("UPDATE products SET stock_reserved = stock_reserved + 5 WHERE id = ?", [
      productId,
    ]);
    expect(await findBuyerLimitBreaches(ctx.deps)).toEqual([
      { product_id: productId, buyer_id: "forced", units: 5, max_per_buyer: 1 },
    ]);
    expect((await invariantViolations(ctx.sql)).join()).toContain("buyer forced has 5 units");
    await ctx.sql.query("DELETE FROM holds WHERE buyer_id = 'forced'");
    await ctx.sql.query("UPDATE products SET stock_reserved = stock_reserved - 5 WHERE id = ?", [
      productId,
    ]);
  });
});

describe("anonymous mode (no buyer tokens configured)", () => {
  let ctx: TestContext;
  let api: Client;

  beforeAll(async () => {
    ctx = await createTestContext();
    api = client(ctx.app);
  });
  afterAll(() => ctx.close());

  test("holds carry buyer_id null; a product with max_per_buyer is 401, changing nothing", async () => {
    const open = await limitedProduct(api, 10, null);
    const limited = await limitedProduct(api, 10, 2);
    const hold = await api.post("/api/holds", { product_id: open, qty: 1 });
    expect(hold.status).toBe(201);
    expect(hold.body.buyer_id).toBeNull();
    const key = { "idempotency-key": "anon-limited" };
    const refused = await api.post("/api/holds", { product_id: limited, qty: 1 }, key);
    expectUnauthorized(refused);
    // A 401 is not remembered: the key is free again.
    const [keys] = await rows<{ n: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key = 'anon-limited'",
    );
    expect(Number(keys?.n)).toBe(0);
    expect((await api.get(`/api/products/${limited}`)).body.available).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("limits under concurrency, over two processes", () => {
  let ctx: TestContext;
  let servers: ServerProcess[];
  let apis: Client[];

  beforeAll(async () => {
    ctx = await createTestContext();
    servers = await Promise.all(
      [0, 1].map(() => startServer(ctx.url, { ...HS256, DB_POOL_SIZE: "8" })),
    );
    apis = servers.map((s) => client(s.base));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    await ctx.close();
  });

  test("one buyer firing 60 concurrent holds at max_per_buyer 3 → exactly 3 granted", async () => {
    const productId = await limitedProduct(apis[0] as Client, 1000, 3);
    const me = bearer(await hs256({ sub: "bot" }));
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (apis[i % 2] as Client).post("/api/holds", { product_id: productId, qty: 1 }, me),
      ),
    );
    console.info(
      `one buyer, 60 holds at limit 3: ${JSON.stringify(countBy(replies, (r) => r.status))}`,
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 3, "409": 57 });
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "buyer_limit_exceeded", limit: 3, used: 3 });
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("80 buyers each firing holds of 1, 1, 2 and 1 at once, limit 3 → every buyer ends with exactly 3", async () => {
    const productId = await limitedProduct(apis[0] as Client, 10_000, 3);
    const buyers = await Promise.all(
      Array.from({ length: 80 }, async (_, b) => bearer(await hs256({ sub: `buyer-${b}` }))),
    );
    const replies = await Promise.all(
      buyers.flatMap((me, b) =>
        [1, 1, 2, 1].map((qty, i) =>
          (apis[(b + i) % 2] as Client).post("/api/holds", { product_id: productId, qty }, me),
        ),
      ),
    );
    const perBuyer = await rows<{ buyer_id: Buffer; units: string }>(
      ctx.sql,
      "SELECT buyer_id, SUM(qty) AS units FROM holds WHERE product_id = ? AND status = 'active' GROUP BY buyer_id",
      [productId],
    );
    console.info(
      `80 buyers × (1, 1, 2, 1) at limit 3: ${JSON.stringify(countBy(replies, (r) => r.status))}; units per buyer ${JSON.stringify(countBy(perBuyer, (r) => Number(r.units)))}`,
    );
    expect(perBuyer).toHaveLength(80);
    expect(perBuyer.every((r) => Number(r.units) === 3)).toBe(true);
    expect(replies.every((r) => r.status === 201 || r.body.code === "buyer_limit_exceeded")).toBe(
      true,
    );
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
