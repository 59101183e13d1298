import { heapStats } from "bun:jsc";
import { Gauge, type Registry } from "prom-client";

/**
 * The JavaScript heap as Bun's engine (JavaScriptCore) counts it. `process.memoryUsage()` under
 * Bun mixes two accountings and often shows more heap used than its heap total; these two are
 * one accounting, size never above capacity. Bun only: the app itself stays runtime-neutral.
 */
export function registerRuntimeMetrics(registry: Registry): void {
  const registers = [registry];
  new Gauge({
    name: "bun_heap_size_bytes",
    help: "Bytes of JavaScript objects on the heap (JavaScriptCore heapSize)",
    registers,
    collect() {
      this.set(heapStats().heapSize);
    },
  });
  new Gauge({
    name: "bun_heap_capacity_bytes",
    help: "Bytes the JavaScript heap has reserved for objects (JavaScriptCore heapCapacity)",
    registers,
    collect() {
      this.set(heapStats().heapCapacity);
    },
  });
}
