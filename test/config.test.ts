import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { ConfigError, ConfigSchema, parseConfig, webhookSecretKey } from "../src/config";

describe("configuration", () => {
  test("defaults are the contract's", () => {
    expect(parseConfig({})).toMatchObject({
      PORT: 3000,
      DATABASE_URL: "mysql://root@127.0.0.1:3306/flash_sale",
      WORKERS: 1,
      HOLD_TTL_SECONDS: 120,
      ORDER_PAYMENT_TIMEOUT_SECONDS: 900,
      MAX_HOLD_QTY: 100,
      PRODUCT_CACHE_TTL_MS: 1000,
      IDEMPOTENCY_KEY_TTL_HOURS: 24,
      WEBHOOK_ALLOW_UNSIGNED: false,
      DEFERRED_EVENT_TTL_HOURS: 72,
      CORS_ORIGINS: [],
      TRUST_PROXY: false,
      LOG_LEVEL: "info",
    });
    const config = parseConfig({});
    expect(config.DB_POOL_SIZE).toBeGreaterThanOrEqual(4);
    expect(config.ADMIN_TOKEN).toBeUndefined();
    expect(config.WEBHOOK_SECRET).toBeUndefined();
    expect(config.SHOPPER_RATE_PER_SECOND).toBeUndefined();
  });

  test("CORS_ORIGINS: a comma-separated list of origins, spaces and a trailing slash forgiven", () => {
    expect(
      parseConfig({ CORS_ORIGINS: "https://shop.example, http://localhost:5173/" }).CORS_ORIGINS,
    ).toEqual(["https://shop.example", "http://localhost:5173"]);
    for (const bad of ["shop.example", "https://shop.example/app", "ftp://shop.example", "*"]) {
      expect(() => parseConfig({ CORS_ORIGINS: bad })).toThrow(ConfigError);
    }
  });

  test("merchant events: the contract's defaults; a URL needs its secret, a bad secret is named", () => {
    expect(parseConfig({})).toMatchObject({
      MERCHANT_WEBHOOK_TIMEOUT_MS: 5000,
      MERCHANT_WEBHOOK_MAX_ATTEMPTS: 12,
      MERCHANT_WEBHOOK_CONCURRENCY: 8,
      MERCHANT_EVENT_RETENTION_DAYS: 30,
      MERCHANT_WEBHOOK_BACKOFF_MS: 1000,
      MERCHANT_WEBHOOK_BACKOFF_MAX_MS: 300_000,
    });
    expect(parseConfig({}).MERCHANT_WEBHOOK_URL).toBeUndefined();
    const problemsOf = (env: Record<string, string>) => {
      try {
        parseConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problemsOf({ MERCHANT_WEBHOOK_URL: "https://merchant.example/hooks" })).toEqual([
      "MERCHANT_WEBHOOK_SECRET: is required when MERCHANT_WEBHOOK_URL is set (a whsec_ secret to sign events with)",
    ]);
    expect(
      problemsOf({
        MERCHANT_WEBHOOK_URL: "ftp://merchant.example",
        MERCHANT_WEBHOOK_SECRET: "plain-secret",
        MERCHANT_WEBHOOK_CONCURRENCY: "0",
      }),
    ).toEqual([
      'MERCHANT_WEBHOOK_URL: must be an http(s):// URL (got "ftp://merchant.example")',
      "MERCHANT_WEBHOOK_SECRET: must start with whsec_",
      'MERCHANT_WEBHOOK_CONCURRENCY: Too small: expected number to be >=1 (got "0")',
    ]);
  });

  test("every bad variable is reported with its reason; secrets are not echoed", () => {
    let error: unknown;
    try {
      parseConfig({
        PORT: "eighty",
        DATABASE_URL: "postgres://x/y",
        HOLD_TTL_SECONDS: "0",
        LOG_LEVEL: "loud",
        WEBHOOK_SECRET: "not-a-secret",
        SWEEPER_CRON: "every second",
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    for (const name of [
      "PORT",
      "DATABASE_URL",
      "HOLD_TTL_SECONDS",
      "LOG_LEVEL",
      "WEBHOOK_SECRET",
      "SWEEPER_CRON",
    ]) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect(problems.join("\n")).not.toContain("not-a-secret");
  });

  test("an empty secret counts as unset", () => {
    const config = parseConfig({ ADMIN_TOKEN: "", WEBHOOK_SECRET: "" });
    expect(config.ADMIN_TOKEN).toBeUndefined();
    expect(config.WEBHOOK_SECRET).toBeUndefined();
  });

  const base64 = (bytes: number) => Buffer.alloc(bytes, 7).toString("base64");

  test.each([
    ["no whsec_ prefix", base64(32)],
    ["a lone base64 character (whsec_A)", "whsec_A"],
    ["padding only (whsec_=)", "whsec_="],
    ["an empty key (whsec_)", "whsec_"],
    ["a character outside base64", `whsec_${base64(30).slice(0, -4)}a*b=`],
    ["base64 of 65 bytes", `whsec_${base64(65)}`],
  ])("WEBHOOK_SECRET with %s is refused at start-up, not at the first webhook", (_name, value) => {
    expect(() => parseConfig({ WEBHOOK_SECRET: value })).toThrow(ConfigError);
  });

  test.each([
    [3, 3],
    [24, 24],
    [64, 64],
  ])("WEBHOOK_SECRET of %i bytes is accepted, and the signer takes it", (bytes, length) => {
    const secret = `whsec_${base64(bytes)}`;
    expect(parseConfig({ WEBHOOK_SECRET: secret }).WEBHOOK_SECRET).toBe(secret);
    expect((webhookSecretKey(secret) as Buffer).length).toBe(length);
    expect(() => new Webhook(secret)).not.toThrow();
  });
});

describe(".env.example", () => {
  const text = readFileSync(join(import.meta.dir, "..", ".env.example"), "utf8");
  const shown = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1]) shown.set(match[1], match[2] ?? "");
  }
  // Set by the supervisor, or by tests of clock skew: not for operators.
  const internal = new Set(["FLASH_SALE_WORKER_ID", "TEST_CLOCK_OFFSET_MS"]);
  const names = Object.keys(ConfigSchema.shape).filter((n) => !internal.has(n));

  test("lists every variable the service reads, and no other", () => {
    expect([...shown.keys()].sort()).toEqual([...names].sort());
  });

  test("each shown value is the default", () => {
    const defaults = parseConfig({}) as Record<string, unknown>;
    for (const name of names) {
      // Machine-dependent: shown empty, the default explained in words.
      if (name === "DB_POOL_SIZE") continue;
      const value = shown.get(name) ?? "";
      const parsed = parseConfig({ [name]: value }) as Record<string, unknown>;
      expect({ name, value: parsed[name] }).toEqual({ name, value: defaults[name] });
    }
  });
});
