import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { userEnv, useServedCheckout } from "./helpers/checkout";
import { databaseUrl } from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";
import { runToEnd } from "./helpers/processes";

// `bash scripts/serve.sh` as a newcomer runs it, in a fresh copy of this checkout: what it
// prints leaves the README's walkthrough as it was, and each way it cannot start (a port in
// use, a URL that is not MySQL's, a local port where nothing answers) is one line and exit 1.

describe("bash scripts/serve.sh", () => {
  /** Private servers a failing bootstrap may have started, stopped by their pid at the end. */
  const privateDirs: string[] = [];
  // Declared before the served copy's hooks, so it runs while the copy they live in is there.
  afterAll(() => {
    for (const data of privateDirs) {
      const pidFile = join(data, "mysqld.pid");
      if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
    }
  });
  const served = useServedCheckout("fs-serve-");

  /** Runs `command` in the copy; its exit code and every line it printed. */
  async function run(command: string, env: Record<string, string>) {
    const { code, out, err } = await runToEnd(["bash", "-c", command], {
      cwd: served.dir,
      env: userEnv(env),
    });
    return { code, lines: `${out}${err}`.split("\n").filter((line) => line.trim() !== "") };
  }

  test("its printed commands, pasted on a fresh database, store no payment event and no order", async () => {
    const { dir, name, server } = served;
    expect(server?.exitCode).toBeNull();
    const printed = readFileSync(join(dir, "serve.log"), "utf8");
    const banner = printed.slice(printed.indexOf("In another shell"));
    // The indented lines are commands (a line ending in `\` goes on in the next).
    const commands = banner
      .split("\n")
      .filter((line) => line.startsWith("  "))
      .join("\n")
      .replaceAll("\\\n", " ");
    expect(commands).toContain("curl -X POST");
    await run(commands, {});
    const db = await mysql.createConnection({ uri: databaseUrl(name) });
    try {
      const [[events], [orders]] = await Promise.all([
        db.query("SELECT COUNT(*) AS n FROM payment_events"),
        db.query("SELECT COUNT(*) AS n FROM orders"),
      ]);
      expect({
        paymentEvents: Number((events as { n: number }[])[0]?.n),
        orders: Number((orders as { n: number }[])[0]?.n),
      }).toEqual({ paymentEvents: 0, orders: 0 });
    } finally {
      await db.end();
    }
  });

  test("a second serve.sh on the port the first one serves: one line, exit 1, no banner", async () => {
    const { name, port } = served;
    const { code, lines } = await run("bash scripts/serve.sh", {
      PORT: String(port),
      DATABASE_URL: databaseUrl(name),
    });
    expect({ code, lines }).toEqual({
      code: 1,
      lines: [
        `serve.sh: port ${port} is in use: stop what listens there, or set PORT to a free one`,
      ],
    });
  });

  test("bun run start on a port in use: one line, exit 1, no code frame", async () => {
    const { name, port } = served;
    const { code, lines } = await run("bun run start", {
      PORT: String(port),
      DATABASE_URL: databaseUrl(name),
    });
    const said = lines.map((line) =>
      line.startsWith("{") ? (JSON.parse(line) as { msg: string }).msg : line,
    );
    expect({ code, said }).toEqual({
      code: 1,
      said: [
        `cannot start: port ${port} is in use: stop what listens there, or set PORT to a free one`,
      ],
    });
  });

  test("a DATABASE_URL that is not mysql://: the clear one line, exit 1", async () => {
    const { code, lines } = await run("bash scripts/serve.sh", {
      PORT: String(await freePort()),
      DATABASE_URL: "postgres://root@127.0.0.1:5432/flash_sale",
    });
    expect({ code, lines }).toEqual({
      code: 1,
      lines: [
        "bootstrap: DATABASE_URL: must be a mysql:// URL, e.g. mysql://root@127.0.0.1:3306/flash_sale",
      ],
    });
  });

  test("a local port where nothing answers starts no second server unless PRIVATE_MARIADB=1: one line, exit 1", async () => {
    const { dir } = served;
    const dbPort = await freePort();
    const data = join(dir, ".mariadb", String(dbPort));
    privateDirs.push(data);
    const { code, lines } = await run("bash scripts/serve.sh", {
      PORT: String(await freePort()),
      DATABASE_URL: `mysql://root@127.0.0.1:${dbPort}/flash_sale`,
    });
    expect({ code, lines, started: existsSync(data) }).toEqual({
      code: 1,
      lines: [
        `bootstrap: nothing answers at 127.0.0.1:${dbPort}: start the database there, or set PRIVATE_MARIADB=1 to start a private MariaDB on that port`,
      ],
      started: false,
    });
  }, 90_000);
});
