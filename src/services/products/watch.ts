import type { Deps } from "../../deps-type";
import { serviceUnavailable } from "../../errors";
import { loadProduct, peekProduct } from "./cache";

/**
 * A live stock stream for one product, its first event the current state. 503 when this
 * process already serves STOCK_EVENTS_MAX_STREAMS streams; 404 for an unknown product.
 */
export async function watchProduct(deps: Deps, id: number): Promise<ReadableStream<Uint8Array>> {
  const slot = deps.stockHub.claim();
  if (slot === undefined) {
    throw serviceUnavailable(
      `This process serves its maximum of ${deps.config.STOCK_EVENTS_MAX_STREAMS} live stock streams; retry shortly or poll GET /api/products/${id}.`,
    );
  }
  try {
    return slot.open(peekProduct(deps, id) ?? (await loadProduct(deps, id)));
  } catch (err) {
    slot.release();
    throw err;
  }
}
