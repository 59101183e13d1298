/**
 * A crowd of live stock subscribers in a process of its own (fetch in one process keeps at most
 * 256 connections open, and `bun test` cannot raise that): opens `count` streams to `url`,
 * prints {"ready":n} once each has its first event, then {"seen":[wall-clock ms…]} once every
 * stream has seen `available` reach 0, or after `timeoutMs`.
 */
import { openEvents } from "./sse";

const [url = "", countText = "0", timeoutText = "10000"] = process.argv.slice(2);
const streams = await Promise.all(Array.from({ length: Number(countText) }, () => openEvents(url)));
await Promise.all(streams.map((s) => s.waitFor(() => true)));
console.log(JSON.stringify({ ready: streams.length }));
const seen = await Promise.all(
  streams.map((s) =>
    s
      .waitFor((e) => e.data.available === 0, Number(timeoutText))
      .then(
        (e) => Date.now() - (performance.now() - e.at),
        () => Number.NaN,
      ),
  ),
);
console.log(JSON.stringify({ seen }));
for (const s of streams) s.close();
process.exit(0);
