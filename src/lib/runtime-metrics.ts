import { heapSize } from "bun:jsc";
import { Gauge, type Registry } from "prom-client";

/**
 * The JavaScript heap as Bun's engine (JavaScriptCore) counts it. `process.memoryUsage()` under
 * Bun mixes two accountings and often shows more heap used than its heap total. `heapSize()`
 * costs microseconds; `heapStats()`, which would add the capacity, walks every object type
 * (5 ms a call with 300,000 objects), too much to block the server for on every scrape.
 * Bun only: the app itself stays runtime-neutral.
 */
export function registerRuntimeMetrics(registry: Registry): void {
  new Gauge({
    name: "bun_heap_size_bytes",
    help: "Bytes of JavaScript objects on the heap, with the memory they own (JavaScriptCore heapSize)",
    registers: [registry],
    collect() {
      this.set(heapSize());
    },
  });
}
