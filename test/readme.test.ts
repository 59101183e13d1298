import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, userEnv, useServedCheckout } from "./helpers/checkout";

// Every example of the README and then of each docs/*.md page (by name), run in order as one
// session against a server started as the README tells a user to start one (`bash
// scripts/serve.sh`, in a fresh copy of this checkout, on a free port with a fresh database). The
// format, also described in docs/testing.md ("How the examples are checked"):
// a fenced block whose info string is `sh example` holds commands; a command (continued over
// lines ending in `\`) may be followed at once by its answer, comment lines starting with
// `# <status>` and then the body as JSON (which may go on over further `#` lines). The body must
// equal the JSON shown, field for field; the string "<timestamp>" stands for any ISO 8601 UTC
// time with milliseconds. A status alone checks the status only. A command without an answer
// must exit 0. Commands run one after another as in one shell session, `localhost:3000` being
// the test's server, and every `curl` of these pages must be in such a block.

/** The pages whose examples run, in the order they run. */
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => `docs/${file}`),
].map((page) => ({ page, markdown: readFileSync(join(ROOT, page), "utf8") }));
const EXAMPLE_BLOCK = /^```sh example\n([\s\S]*?)^```$/gm;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Step = { page: string; block: number; command: string; status?: number; body?: unknown };

/** A page's example blocks as commands with their expected answers, in order. */
function exampleSteps(page: string, markdown: string): Step[] {
  const steps: Step[] = [];
  const blocks = [...markdown.matchAll(EXAMPLE_BLOCK)];
  for (const [index, block] of blocks.entries()) {
    const lines = (block[1] ?? "").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i] ?? "";
      if (line.trim() === "" || line.startsWith("#")) {
        i++;
        continue;
      }
      let command = line;
      while (command.endsWith("\\") && i + 1 < lines.length) command += `\n${lines[++i]}`;
      i++;
      const step: Step = { page, block: index + 1, command };
      const answer = /^# (\d{3})\b ?(.*)$/.exec(lines[i] ?? "");
      if (answer) {
        let body = answer[2] ?? "";
        while ((lines[++i] ?? "").startsWith("#")) body += ` ${(lines[i] ?? "").slice(1).trim()}`;
        step.status = Number(answer[1]);
        if (body.trim() !== "") step.body = JSON.parse(body);
      }
      steps.push(step);
    }
  }
  return steps;
}

/** Where `actual` differs from `expected`, as a path and a reason; undefined when it does not. */
function difference(expected: unknown, actual: unknown, path = "body"): string | undefined {
  if (expected === "<timestamp>") {
    return typeof actual === "string" && TIMESTAMP.test(actual)
      ? undefined
      : `${path}: expected a timestamp, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${path}: expected ${expected.length} items, got ${JSON.stringify(actual)}`;
    }
    for (const [i, item] of expected.entries()) {
      const found = difference(item, actual[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    }
    const want = Object.keys(expected).sort();
    const got = Object.keys(actual).sort();
    if (want.join() !== got.join())
      return `${path}: fields ${got.join()} instead of ${want.join()}`;
    for (const key of want) {
      const found = difference(
        (expected as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (found) return found;
    }
    return undefined;
  }
  return expected === actual
    ? undefined
    : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

describe("the README's examples", () => {
  const steps = PAGES.flatMap(({ page, markdown }) => exampleSteps(page, markdown));
  const served = useServedCheckout("fs-readme-");

  test("every curl of the README and docs/ is in an example block", () => {
    const outside = PAGES.flatMap(({ page, markdown }) =>
      (markdown.replace(EXAMPLE_BLOCK, "").match(/^\s*curl .*$/gm) ?? []).map(
        (line) => `${page}: ${line}`,
      ),
    );
    expect(outside).toEqual([]);
    expect(steps.filter((s) => s.status !== undefined).length).toBeGreaterThan(20);
  });

  test("a code block that names a file of examples/ shows that file as it is", () => {
    const shown = PAGES.flatMap(({ page, markdown }) =>
      [...markdown.matchAll(/^```\w+ (examples\/\S+)\n([\s\S]*?)^```$/gm)].map(
        ([, file = "", code]) => ({ page, file, code }),
      ),
    );
    expect(shown.map(({ file }) => file).sort()).toEqual([
      "examples/client.ts",
      "examples/merchant-receiver.ts",
    ]);
    for (const { page, file, code } of shown) {
      expect(`${page}: ${file}\n${code}`).toBe(
        `${page}: ${file}\n${readFileSync(join(ROOT, file), "utf8")}`,
      );
    }
  });

  test("serve.sh kept its secrets in .env.local and printed how to sign a webhook", () => {
    const { dir } = served;
    const env = readFileSync(join(dir, ".env.local"), "utf8");
    expect(statSync(join(dir, ".env.local")).mode & 0o777).toBe(0o600);
    expect(env).toMatch(/^ADMIN_TOKEN=[A-Za-z0-9_-]{43}$/m);
    expect(env).toMatch(/^WEBHOOK_SECRET=whsec_[A-Za-z0-9+/]{42}[A-Za-z0-9+/=]{2}$/m);
    expect(env).toMatch(/^BUYER_JWT_SECRET=[A-Za-z0-9_-]{43}$/m);
    const printed = readFileSync(join(dir, "serve.log"), "utf8");
    expect(printed).toContain('-H @<(bun run --silent sign-webhook "$BODY")');
  });

  test("each answer is the one the page shows, in order", async () => {
    const { dir, port, server } = served;
    if (server?.exitCode !== null) {
      throw new Error(`serve.sh exited:\n${readFileSync(join(dir, "serve.log"), "utf8")}`);
    }
    const answers = join(dir, ".answers");
    mkdirSync(answers);
    const state = join(answers, "state");
    for (const step of steps) {
      const command = step.command.replaceAll("localhost:3000", `localhost:${port}`);
      rmSync(join(answers, "status"), { force: true });
      const script = [
        "set -a",
        `[ -f '${state}' ] && . '${state}'`,
        `curl() { command curl -sS -o '${answers}/body' -w '%{http_code}' "$@" >'${answers}/status'; }`,
        command,
        "code=$?",
        `export -p >'${state}'`,
        "exit $code",
      ].join("\n");
      const run = Bun.spawnSync(["bash", "-c", script], {
        cwd: dir,
        env: userEnv({}),
        stderr: "pipe",
      });
      const where = `${step.page} example block ${step.block}:\n${step.command}\n`;
      if (step.status === undefined) {
        expect(`${where}exit ${run.exitCode} ${run.stderr.toString()}`).toBe(`${where}exit 0 `);
        continue;
      }
      const status = Number(
        await Bun.file(join(answers, "status"))
          .text()
          .catch(() => "0"),
      );
      const text = await Bun.file(join(answers, "body")).text();
      expect(`${where}status ${status}: ${text}`).toStartWith(`${where}status ${step.status}:`);
      if (step.body === undefined) continue;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      expect(`${where}${difference(step.body, body) ?? "as shown"}`).toBe(`${where}as shown`);
    }
  }, 120_000);
});
