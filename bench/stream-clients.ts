/**
 * One process of live stock subscribers for `bun run bench`: opens `count` streams to `url`,
 * prints {"ready":n} when each has its first event, then {"seen":[wall-clock ms…]} when each
 * has had an event whose `available` differs from the first one (or NaN after `timeoutMs`).
 */
import { openEvents } from "../test/helpers/sse";

const [url = "", countText = "0", timeoutText = "20000"] = process.argv.slice(2);
const streams = [];
// Opened in slices so the server is not hit by thousands of handshakes in the same instant.
for (let opened = 0; opened < Number(countText); opened += 100) {
  const slice = Math.min(100, Number(countText) - opened);
  streams.push(...(await Promise.all(Array.from({ length: slice }, () => openEvents(url)))));
}
const firsts = await Promise.all(streams.map((s) => s.waitFor(() => true, 60_000)));
console.log(JSON.stringify({ ready: streams.filter((s) => s.status === 200).length }));
const seen = await Promise.all(
  streams.map((s, i) =>
    s
      .waitFor((e) => e.data.available !== firsts[i]?.data.available, Number(timeoutText))
      .then(
        (e) => Date.now() - (performance.now() - e.at),
        () => Number.NaN,
      ),
  ),
);
console.log(JSON.stringify({ seen }));
for (const s of streams) s.close();
process.exit(0);
