import { describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { toAppError } from "../src/db/errors";
import { products } from "../src/db/schema";
import { MAX_ATTEMPTS, transact, withTransaction } from "../src/db/transaction";
import { AppError } from "../src/errors";
import { useTestApp } from "./helpers/apps";
import { client, createProduct, patience } from "./helpers/fixtures";

const { ctx } = useTestApp();

const deadlock = () =>
  Object.assign(new Error("Deadlock found when trying to get lock"), { errno: 1213 });

describe("transaction retries", () => {
  test("a deadlock is retried and the transaction then succeeds", async () => {
    const reasons: string[] = [];
    let attempts = 0;
    const result = await withTransaction(
      ctx.deps.pool,
      async () => {
        attempts++;
        if (attempts < 3) throw deadlock();
        return "done";
      },
      { guard: patience(), onRetry: (reason) => reasons.push(reason) },
    );
    expect(result).toBe("done");
    expect(reasons).toEqual(["deadlock", "deadlock"]);
  });

  test("retries are bounded, then the answer is 503 service_unavailable", async () => {
    let attempts = 0;
    const error = await transact(ctx.deps, patience(), async () => {
      attempts++;
      throw deadlock();
    }).catch((err: unknown) => err);
    expect(attempts).toBe(MAX_ATTEMPTS);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("service_unavailable");
    expect((error as AppError).retryAfterSeconds).toBe(1);
  });

  test("a real InnoDB deadlock between two transactions: both complete", async () => {
    const api = client(ctx.app);
    const [a, b] = [await createProduct(api, 10), await createProduct(api, 10)];
    let ready = 0;
    const bothHoldOneLock = async () => {
      ready++;
      while (ready < 2) await Bun.sleep(5);
    };
    const reasons: string[] = [];
    const bump = (first: number, second: number) =>
      withTransaction(
        ctx.deps.pool,
        async (tx) => {
          await tx.select().from(products).where(eq(products.id, first)).for("update");
          await bothHoldOneLock();
          await tx.select().from(products).where(eq(products.id, second)).for("update");
          await tx
            .update(products)
            .set({ version: sql`${products.version} + 1` })
            .where(eq(products.id, second));
        },
        { guard: patience(), onRetry: (reason) => reasons.push(reason) },
      );
    await Promise.all([bump(a, b), bump(b, a)]);
    const [rows] = (await ctx.sql.query(
      "SELECT id, version FROM products WHERE id IN (?, ?) ORDER BY id",
      [a, b],
    )) as unknown as [{ id: number; version: number }[]];
    expect(rows.map((r) => r.version)).toEqual([2, 2]);
    // InnoDB chose a victim; running it again was enough.
    expect(reasons).toEqual(["deadlock"]);
  });
});

describe("a writer of a paged list's rows commits within its bound (db/keyset.ts)", () => {
  test("an attempt open past commitWithinMs is rolled back and run again; only the rerun is kept", async () => {
    const name = `bounded-${Math.random().toString(36).slice(2)}`;
    const reasons: string[] = [];
    let attempts = 0;
    await withTransaction(
      ctx.deps.pool,
      async (tx) => {
        attempts++;
        await tx.insert(products).values({
          name: `${name}-${attempts}`,
          priceCents: 100,
          stockAvailable: 1,
          stockTotal: 1,
        });
        if (attempts === 1) await Bun.sleep(400);
      },
      { guard: patience(), commitWithinMs: 200, onRetry: (reason) => reasons.push(reason) },
    );
    const [stored] = (await ctx.sql.query(
      "SELECT name FROM products WHERE name LIKE ? ORDER BY id",
      [`${name}-%`],
    )) as unknown as [{ name: string }[]];
    expect({ attempts, reasons, stored: stored.map((r) => r.name) }).toEqual({
      attempts: 2,
      reasons: ["statement_timeout"],
      stored: [`${name}-2`],
    });
  });
});

describe("database failures map to 503 with Retry-After in one place", () => {
  const driverError = (fields: Record<string, unknown>) =>
    Object.assign(new Error("driver error"), fields);

  test.each([
    ["1213 deadlock (also Galera's certification failure)", { errno: 1213 }],
    ["1205 lock wait timeout", { errno: 1205 }],
    ["1317 query interrupted (KILL QUERY)", { errno: 1317 }],
    ["1927 connection killed", { errno: 1927 }],
    ["1047 Galera node not ready", { errno: 1047 }],
    ["1969 MariaDB statement timeout", { errno: 1969 }],
    ["3024 MySQL statement timeout", { errno: 3024 }],
    ["connection lost", { code: "PROTOCOL_CONNECTION_LOST", fatal: true }],
    ["connection refused", { code: "ECONNREFUSED" }],
    ["connect timeout", { code: "ETIMEDOUT" }],
  ])("%s", (_name, fields) => {
    // Drizzle wraps the driver's error; the errno sits down the cause chain.
    const wrapped = Object.assign(new Error("Failed query"), { cause: driverError(fields) });
    const mapped = toAppError(wrapped);
    expect(mapped).toBeInstanceOf(AppError);
    expect((mapped as AppError).code).toBe("service_unavailable");
    expect((mapped as AppError).retryAfterSeconds).toBe(1);
  });

  test("a constraint violation is not a 503: it is a bug, answered 500", () => {
    const duplicate = driverError({ errno: 1062, code: "ER_DUP_ENTRY" });
    expect(toAppError(duplicate)).toBe(duplicate);
  });
});
