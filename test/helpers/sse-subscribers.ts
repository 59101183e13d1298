/**
 * A crowd of live stock subscribers in a process of its own (fetch in one process keeps at most
 * 256 connections open, and `bun test` cannot raise that). Used by the tests and the bench.
 *
 *   bun test/helpers/sse-subscribers.ts <url> <count> <timeoutMs> <sold-out|change>
 *
 * Opens `count` streams to `url` (a hundred at a time), prints {"ready":n} once each has its
 * first event, then {"seen":[wall-clock ms…]} once each has seen `available` reach 0
 * (`sold-out`) or differ from its first event (`change`); NaN for a stream that timed out.
 */
import { openEvents, type StockEvent } from "./sse";

const [url = "", countText = "0", timeoutText = "10000", until = "sold-out"] =
  process.argv.slice(2);
const streams = [];
for (let opened = 0; opened < Number(countText); opened += 100) {
  const slice = Math.min(100, Number(countText) - opened);
  streams.push(...(await Promise.all(Array.from({ length: slice }, () => openEvents(url)))));
}
const firsts = await Promise.all(streams.map((s) => s.waitFor(() => true, 60_000)));
console.log(JSON.stringify({ ready: streams.filter((s) => s.status === 200).length }));
const seen = await Promise.all(
  streams.map((s, i) => {
    const first = firsts[i];
    const match =
      until === "change"
        ? (e: StockEvent) => e.data.available !== first?.data.available
        : (e: StockEvent) => e.data.available === 0;
    return s.waitFor(match, Number(timeoutText)).then(
      (e) => Date.now() - (performance.now() - e.at),
      () => Number.NaN,
    );
  }),
);
console.log(JSON.stringify({ seen }));
for (const s of streams) s.close();
process.exit(0);
