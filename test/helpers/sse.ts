export type StockEvent = { event: string; id: number; data: Record<string, unknown>; at: number };

export type EventStream = {
  status: number;
  headers: Headers;
  /** The problem body when the stream was refused. */
  problem?: Record<string, unknown>;
  events: StockEvent[];
  comments: number;
  /** Resolves with the first event (already received or to come) that matches, or throws. */
  waitFor: (match: (e: StockEvent) => boolean, timeoutMs?: number) => Promise<StockEvent>;
  close: () => void;
};

/** A Server-Sent Events client over fetch, parsing `event`, `id` and `data` lines. */
export async function openEvents(url: string): Promise<EventStream> {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal });
  const stream: EventStream = {
    status: response.status,
    headers: response.headers,
    events: [],
    comments: 0,
    waitFor: async () => {
      throw new Error("no stream");
    },
    close: () => abort.abort(),
  };
  if (!response.ok || !response.body) {
    stream.problem = (await response.json()) as Record<string, unknown>;
    return stream;
  }
  const waiters = new Set<() => void>();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          if (block.startsWith(":")) {
            stream.comments++;
            continue;
          }
          const fields = Object.fromEntries(
            block.split("\n").map((line) => {
              const colon = line.indexOf(": ");
              return [line.slice(0, colon), line.slice(colon + 2)];
            }),
          );
          stream.events.push({
            event: fields.event ?? "",
            id: Number(fields.id),
            data: JSON.parse(fields.data ?? "null") as Record<string, unknown>,
            at: performance.now(),
          });
          for (const wake of waiters) wake();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  stream.waitFor = (match, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = stream.events.find(match);
        if (!found) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`no matching event within ${timeoutMs} ms (${stream.events.length} events)`),
        );
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return stream;
}
