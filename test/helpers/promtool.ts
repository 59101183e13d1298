/** Debian's promtool, which tests use to check what Prometheus itself says about our output. */
export const PROMTOOL = "/usr/bin/promtool";

export async function requirePromtool(): Promise<void> {
  if (!(await Bun.file(PROMTOOL).exists())) {
    throw new Error(`${PROMTOOL} is missing: run bash scripts/test.sh, which installs it`);
  }
}

export function promtool(args: string[], stdin?: string, cwd?: string) {
  const run = Bun.spawnSync([PROMTOOL, ...args], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    cwd,
  });
  return { code: run.exitCode, output: `${run.stdout.toString()}${run.stderr.toString()}` };
}

/** The samples of one metric name in Prometheus text: labels (as written) → value. */
export function samples(text: string, name: string): { labels: string; value: number }[] {
  const found: { labels: string; value: number }[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) found.push({ labels: match[2] ?? "", value: Number(match[3]) });
  }
  return found;
}
