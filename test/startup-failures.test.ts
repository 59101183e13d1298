import { describe, expect, test } from "bun:test";
import { databaseUrl } from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";
import { runToEnd } from "./helpers/processes";

// The commands a user runs, spawned as they are: each failure is one line saying what is
// wrong, a non-zero exit, no stack trace and no code frame.

const COMMANDS = ["start", "db:migrate", "db:seed"] as const;

async function run(command: string, env: Record<string, string>) {
  const { code, out, err } = await runToEnd([process.execPath, "run", command], {
    env: { ...process.env, LOG_LEVEL: "info", DB_STARTUP_TIMEOUT_SECONDS: "0", ...env },
  });
  return { code, lines: `${out}${err}`.split("\n").filter((line) => line.trim() !== "") };
}

/** What a person reads: a JSON log line's message, or the line itself. */
function said(line: string): string {
  if (!line.startsWith("{")) return line;
  return (JSON.parse(line) as { msg: string }).msg;
}

const url = (host: string, port: number | string, password = "") => {
  const parsed = new URL(databaseUrl(`fs_fail_${process.pid}`));
  parsed.hostname = host;
  parsed.port = String(port);
  parsed.password = password;
  return parsed.toString();
};

describe.each(COMMANDS)("bun run %s", (command) => {
  const cases: [string, () => Promise<string>, RegExp][] = [
    ["DATABASE_URL='not a url'", async () => "not a url", /DATABASE_URL: must be a mysql:\/\/ URL/],
    [
      "an unknown host",
      async () => url("no-such-host.invalid", 3306),
      /host "no-such-host\.invalid" is unknown/,
    ],
    [
      "nothing listening",
      async () => url("127.0.0.1", await freePort()),
      /nothing accepts connections at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    ],
    [
      "a wrong password",
      async () => url("127.0.0.1", new URL(databaseUrl("x")).port || 3306, "wrong-password"),
      /refused: Access denied for user '\w+'@.*\(using password: YES\)/,
    ],
  ];

  test.each(cases)("%s: one line saying so, exit 1, no stack", async (_name, target, reason) => {
    const { code, lines } = await run(command, { DATABASE_URL: await target() });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(said(lines[0] ?? "")).toMatch(reason);
    const text = lines.join("\n");
    expect(text).not.toMatch(/^\s+at /m);
    expect(text).not.toMatch(/^\s*\d+ \| /m);
    expect(text).not.toContain("error: script");
  });
});

test("an unknown host stops start-up at once rather than being waited for", async () => {
  const { code, lines } = await run("start", {
    DATABASE_URL: url("no-such-host.invalid", 3306),
    DB_STARTUP_TIMEOUT_SECONDS: "60",
  });
  expect(code).toBe(1);
  // Waiting would have logged "waiting for the database" once a second for a minute.
  expect(lines.map(said)).toEqual([
    'cannot start: the database host "no-such-host.invalid" is unknown (ENOTFOUND): check DATABASE_URL',
  ]);
});
