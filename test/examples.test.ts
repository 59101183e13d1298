import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Webhook } from "standardwebhooks";
import { type MerchantDispatcher, startMerchantDispatcher } from "../src/jobs/merchant-dispatcher";
import { ROOT, userEnv } from "./helpers/checkout";
import { admin, client, createHold, createOrder, createProduct } from "./helpers/fixtures";
import {
  ADMIN_TOKEN,
  createTestContext,
  type Running,
  rows,
  serve,
  type TestContext,
  useServedContext,
} from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";
import { runToEnd } from "./helpers/processes";
import { until } from "./helpers/until";

// The scripts of examples/ that the README and docs/api.md show, run as a newcomer runs them
// (`bun examples/…` from the checkout) against a real server. `bun run typecheck` covers them too.

const BUYER_JWT_SECRET = "examples-buyer-secret-0123456789abcdef";
/** How docs/api.md says to make a merchant secret. */
const MAKE_SECRET = `bun -e 'console.log("whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"))'`;

describe("examples/client.ts through @flash-sale/client", () => {
  const served = useServedContext({ BUYER_JWT_SECRET });

  test("@flash-sale/client is this checkout's client/ (tsconfig's paths), for Bun as for tsc", () => {
    expect(Bun.resolveSync("@flash-sale/client", ROOT)).toBe(join(ROOT, "client/index.ts"));
  });

  test("holds two units for the buyer and lists the products; a refused token exits 1", async () => {
    const { baseUrl, sql } = served();
    const api = client(baseUrl);
    const productId = await createProduct(api, 10);
    expect(productId).toBe(1);
    const token = Bun.spawnSync(["bun", "run", "--silent", "token", "customer-7"], {
      cwd: ROOT,
      env: userEnv({ BUYER_JWT_SECRET }),
    });
    expect(token.exitCode).toBe(0);
    // Spawned, not spawnSync: the server answering the script runs in this process.
    const run = async (buyerToken: string) => {
      const { code, out, err } = await runToEnd(["bun", "examples/client.ts"], {
        cwd: ROOT,
        env: userEnv({ FLASH_SALE_URL: baseUrl, BUYER_TOKEN: buyerToken, ADMIN_TOKEN }),
      });
      return { stdout: out, stderr: err, exitCode: code };
    };

    const ran = await run(token.stdout.toString().trim());
    expect(ran.stderr).toBe("");
    expect(ran.exitCode).toBe(0);
    expect(ran.stdout).toMatch(
      /^hold 1: 2 units until \d{4}-\d\d-\d\dT[\d:.]+Z\nLimited sneaker: 8 available, 0 paid\n$/,
    );
    expect(
      await rows(sql, "SELECT CAST(buyer_id AS CHAR) AS buyer_id, qty, status FROM holds"),
    ).toEqual([{ buyer_id: "customer-7", qty: 2, status: "active" }]);

    const refused = await run("not-a-token");
    expect(refused.stderr).toStartWith("hold: 401 unauthorized:");
    expect(refused.exitCode).toBe(1);
    expect(await rows(sql, "SELECT COUNT(*) AS n FROM holds")).toEqual([{ n: 1 }]);
  });
});

describe("examples/merchant-receiver.ts", () => {
  let secret = "";
  let port = 0;
  let receiver: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let printed = "";
  let ctx: TestContext | undefined;
  let running: Running | undefined;
  let dispatcher: MerchantDispatcher | undefined;

  beforeAll(async () => {
    const made = Bun.spawnSync(["bash", "-c", MAKE_SECRET], { env: userEnv({}) });
    secret = made.stdout.toString().trim();
    port = await freePort();
    receiver = Bun.spawn(["bun", "examples/merchant-receiver.ts"], {
      cwd: ROOT,
      env: userEnv({ MERCHANT_WEBHOOK_SECRET: secret, PORT: String(port) }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout = receiver.stdout;
    void (async () => {
      for await (const chunk of stdout) printed += new TextDecoder().decode(chunk);
    })();
    await until(
      () => printed,
      (seen) => seen.includes("receiving merchant events on"),
      { orThrow: "the receiver to listen" },
    );
    ctx = await createTestContext({
      MERCHANT_WEBHOOK_URL: `http://127.0.0.1:${port}/`,
      MERCHANT_WEBHOOK_SECRET: secret,
      MERCHANT_WEBHOOK_POLL_MS: "20",
    });
    running = serve(ctx.app);
    dispatcher = startMerchantDispatcher(ctx.deps);
  }, 30_000);

  afterAll(async () => {
    await dispatcher?.stop();
    receiver?.kill();
    await receiver?.exited;
    await running?.stop();
    await ctx?.close();
  });

  test("docs/api.md makes the secret as this test does, and the service accepts it", () => {
    expect(readFileSync(join(ROOT, "docs/api.md"), "utf8")).toContain(MAKE_SECRET);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(ctx?.config.MERCHANT_WEBHOOK_SECRET).toBe(secret);
  });

  test("receives the service's signed order.created and answers 2xx: the event is delivered", async () => {
    if (!running) throw new Error("not started");
    const api = client(running.baseUrl);
    const orderId = await createOrder(api, await createHold(api, await createProduct(api, 5), 2));
    const line = await until(
      () => printed,
      (seen) => seen.includes(" order.created "),
      { orThrow: "order.created at the receiver" },
    );
    const [, id, data] = /^(\d+) order\.created (.*)$/m.exec(line) ?? [];
    expect(JSON.parse(data ?? "null")).toMatchObject({ order_id: orderId, qty: 2 });
    await until(
      async () =>
        JSON.stringify(
          (await api.get("/api/admin/events?after_id=0&delivery=delivered", admin)).body,
        ),
      (seen) => seen.includes(`"id":${id},`),
      { orThrow: "the event delivered" },
    );
  });

  test("an unsigned or wrongly signed POST is a 400; an id already handled is not handled again", async () => {
    const url = `http://127.0.0.1:${port}/`;
    const body = JSON.stringify({
      type: "order.paid",
      timestamp: new Date().toISOString(),
      data: {},
    });
    const post = async (headers: Record<string, string>) => {
      const res = await fetch(url, { method: "POST", headers, body });
      return `${res.status} ${await res.text()}`;
    };
    const signed = (key: string, id: string) => {
      const now = new Date();
      return {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": new Webhook(key).sign(id, now, body),
      };
    };
    expect(await post({})).toBe("400 bad signature");
    const other = `whsec_${Buffer.from("another merchant's secret, 32 b").toString("base64")}`;
    expect(await post(signed(other, "replay-1"))).toBe("400 bad signature");
    expect(await post(signed(secret, "replay-1"))).toBe("200 ok");
    expect(await post(signed(secret, "replay-1"))).toBe("200 duplicate");
    expect(printed.match(/^replay-1 /gm)).toHaveLength(1);
  });
});
