import type { CachedProduct } from "./product-cache";

/** Where the hub reads a product: the process's cache, and the shared read on a miss. */
export type ProductSource = {
  peek: (id: number) => CachedProduct | undefined;
  load: (id: number) => Promise<CachedProduct>;
};

export type StockHubOptions = {
  intervalMs: number;
  maxStreams: number;
  keepAliveMs?: number;
};

type Subscriber = {
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** The revision this client last got. */
  revision: number;
};

/** One stream's place in the process's limit (see `StockHub.claim`). */
export type StreamSlot = {
  open: (first: CachedProduct) => ReadableStream<Uint8Array>;
  release: () => void;
};

type Watch = {
  subscribers: Set<Subscriber>;
  /** The newest revision handed out: a tick with nothing newer skips the subscribers. */
  revision: number;
  /** Some slow client still lacks `revision`. */
  behind: boolean;
};

const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");
/** Chunks a stream may hold unsent before its client counts as slow and gets only the latest. */
const HIGH_WATER_MARK = 4;

function stockEvent(product: CachedProduct): Uint8Array {
  return encoder.encode(`event: stock\nid: ${product.revision}\ndata: ${product.body}\n\n`);
}

/**
 * Live stock for shoppers' apps (Server-Sent Events). Per process, one timer ticks every
 * `intervalMs` while anyone watches: for each watched product it takes the product from the
 * cache (one shared database read when the cache entry expired, however many watch) and, if its
 * version moved, encodes one event and hands the same bytes to every subscriber. Changes are
 * thereby coalesced to one event per interval, the latest state is never skipped, a local write
 * shows within the interval and another process's within PRODUCT_CACHE_TTL_MS plus the
 * interval. Event ids are the product's revision, which grows with every change, the sale
 * window's opening and closing included: the tick reads the product through the cache, which
 * renders the new sale state once an edge has passed, so a countdown flips without a hold. A client that
 * reads slower than events come is sent only the latest state once it has caught up.
 */
export class StockHub {
  private readonly watches = new Map<number, Watch>();
  private open = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private ticking = false;

  constructor(
    private readonly source: ProductSource,
    private readonly options: StockHubOptions,
  ) {}

  /** Streams open in this process. */
  get streams(): number {
    return this.open;
  }

  /** Whether one more stream may open (the limit is per process). */
  get full(): boolean {
    return this.open >= this.options.maxStreams;
  }

  /**
   * A place for one more stream, taken at once, or undefined when the process serves its
   * maximum: taken before the product is read, so that opens waiting on that read cannot all
   * pass the check together. The slot opens its stream, or is released if none opens.
   */
  claim(): StreamSlot | undefined {
    if (this.full) return undefined;
    this.open++;
    let settled = false;
    return {
      open: (first) => {
        settled = true;
        return this.stream(first);
      },
      release: () => {
        if (settled) return;
        settled = true;
        this.open--;
      },
    };
  }

  /** A stream whose first event is `first`, sent at once, whatever the limit (for tests). */
  subscribe(first: CachedProduct): ReadableStream<Uint8Array> {
    this.open++;
    return this.stream(first);
  }

  /** The stream of a claimed place; it ends (and frees the place) when the client leaves. */
  private stream(first: CachedProduct): ReadableStream<Uint8Array> {
    const productId = first.view.id;
    let subscriber: Subscriber | undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          subscriber = { controller, revision: first.revision };
          controller.enqueue(stockEvent(first));
          let watch = this.watches.get(productId);
          if (!watch) {
            watch = { subscribers: new Set(), revision: first.revision, behind: false };
            this.watches.set(productId, watch);
          }
          // Started from an older copy than others have had: the next tick brings it up to date.
          if (first.revision < watch.revision) watch.behind = true;
          watch.subscribers.add(subscriber);
          this.startTimers();
        },
        cancel: () => {
          if (subscriber) this.unsubscribe(productId, subscriber);
        },
      },
      { highWaterMark: HIGH_WATER_MARK },
    );
  }

  /** Ends every stream, for shutdown. */
  close(): void {
    for (const [productId, watch] of this.watches) {
      for (const subscriber of watch.subscribers) {
        this.unsubscribe(productId, subscriber);
        try {
          subscriber.controller.close();
        } catch {
          // already closed by the client
        }
      }
    }
  }

  private unsubscribe(productId: number, subscriber: Subscriber): void {
    const watch = this.watches.get(productId);
    if (!watch?.subscribers.delete(subscriber)) return;
    this.open--;
    if (watch.subscribers.size === 0) this.watches.delete(productId);
    if (this.watches.size === 0) this.stopTimers();
  }

  private startTimers(): void {
    this.ticker ??= setInterval(() => void this.tick(), this.options.intervalMs);
    this.keepAlive ??= setInterval(() => this.sendKeepAlive(), this.options.keepAliveMs ?? 15_000);
  }

  private stopTimers(): void {
    clearInterval(this.ticker);
    clearInterval(this.keepAlive);
    this.ticker = undefined;
    this.keepAlive = undefined;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all(
        [...this.watches.keys()].map(async (productId) => {
          const product =
            this.source.peek(productId) ??
            (await this.source.load(productId).catch(() => undefined));
          const watch = this.watches.get(productId);
          if (product && watch) this.fanOut(productId, watch, product);
        }),
      );
    } finally {
      this.ticking = false;
    }
  }

  /** Hands the latest state to every subscriber that has not had it and has room for it. */
  private fanOut(productId: number, watch: Watch, product: CachedProduct): void {
    if (product.revision <= watch.revision && !watch.behind) return;
    let event: Uint8Array | undefined;
    let behind = false;
    for (const subscriber of watch.subscribers) {
      if (subscriber.revision >= product.revision) continue;
      if ((subscriber.controller.desiredSize ?? 0) <= 0) {
        behind = true;
        continue;
      }
      event ??= stockEvent(product);
      if (!this.send(productId, subscriber, event)) continue;
      subscriber.revision = product.revision;
    }
    watch.revision = Math.max(watch.revision, product.revision);
    watch.behind = behind;
  }

  /** Enqueues, or forgets a subscriber whose stream already ended. */
  private send(productId: number, subscriber: Subscriber, chunk: Uint8Array): boolean {
    try {
      subscriber.controller.enqueue(chunk);
      return true;
    } catch {
      this.unsubscribe(productId, subscriber);
      return false;
    }
  }

  private sendKeepAlive(): void {
    for (const [productId, watch] of this.watches) {
      for (const subscriber of watch.subscribers) {
        if ((subscriber.controller.desiredSize ?? 0) > 0)
          this.send(productId, subscriber, KEEP_ALIVE);
      }
    }
  }
}
