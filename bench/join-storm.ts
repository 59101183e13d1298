/**
 * A join storm for bench/run.ts: every buyer of a token file joins a waiting room exactly once,
 * over `connections` keep-alive connections at once; prints one RESULT line as bench/wrk.lua
 * does. (wrk sends requests for as long as it runs; a storm of distinct buyers needs an end.)
 * Usage: bun bench/join-storm.ts <url> <tokens-file> <connections>
 */
export {};

const [url = "", file = "", connections = "256"] = process.argv.slice(2);
const tokens = (await Bun.file(file).text()).split("\n").filter(Boolean);
const latencies: number[] = [];
let next = 0;
let ok = 0;
let other = 0;
let errors = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    for (let i = next++; i < tokens.length; i = next++) {
      const sent = performance.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[i]}` },
        });
        await res.arrayBuffer();
        if (res.status === 201 || res.status === 200) ok++;
        else other++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - sent);
    }
  }),
);
const duration = performance.now() - started;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  Math.round((latencies[Math.floor(q * (latencies.length - 1))] ?? 0) * 1000);
console.log(
  `RESULT ${JSON.stringify({
    ok,
    refused: 0,
    not_started: 0,
    too_many: 0,
    other,
    requests: tokens.length,
    duration_us: Math.round(duration * 1000),
    p50_us: at(0.5),
    p99_us: at(0.99),
    socket_errors: errors,
  })}`,
);
