import type { Socket, TCPSocketListener } from "bun";

type Pair = { client: Socket<Peer>; upstream?: Socket<Peer> };
type Peer = { pair: Pair; pending: Uint8Array[] };

/**
 * A TCP proxy on 127.0.0.1 between the app and the database, for outage tests. `cut()` drops
 * every open connection and leaves new ones hanging, as a dead network would; `restore()`
 * forwards again. `dropWhenSent(text)` closes any connection whose client sends `text` (a
 * statement), so that exactly that statement fails with a lost connection; with `forward`, the
 * statement reaches the database first and only its answer is lost; with `thenCut`, the
 * database stays out of reach after that (as after a crash) until `restore()`.
 */
export class TcpProxy {
  private listener?: TCPSocketListener<Peer>;
  private readonly pairs = new Set<Pair>();
  private up = true;
  private tripwire: { text: Buffer; forward: boolean; once: boolean; thenCut: boolean } | undefined;
  /** How many connections the tripwire closed. */
  dropped = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get port(): number {
    if (!this.listener) throw new Error("proxy not started");
    return this.listener.port;
  }

  start(port = 0): void {
    this.listener = Bun.listen<Peer>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (client) => {
          const pair: Pair = { client };
          client.data = { pair, pending: [] };
          this.pairs.add(pair);
          if (!this.up) return;
          void Bun.connect<Peer>({
            hostname: this.targetHost,
            port: this.targetPort,
            socket: {
              open: (upstream) => {
                upstream.data = { pair, pending: [] };
                pair.upstream = upstream;
                for (const chunk of client.data.pending) upstream.write(chunk);
                client.data.pending = [];
              },
              data: (_upstream, chunk) => {
                client.write(chunk);
              },
              close: () => {
                client.end();
              },
              error: () => {
                client.end();
              },
            },
          }).catch(() => client.end());
        },
        data: (client, chunk) => {
          const { pair } = client.data;
          if (!this.up) return;
          const wire = this.tripwire;
          if (wire && Buffer.from(chunk).includes(wire.text)) {
            this.dropped++;
            if (wire.once) this.tripwire = undefined;
            if (wire.forward) pair.upstream?.write(chunk);
            pair.upstream?.end();
            client.end();
            if (wire.thenCut) this.cut();
            return;
          }
          if (pair.upstream) pair.upstream.write(chunk);
          else client.data.pending.push(new Uint8Array(chunk));
        },
        close: (client) => {
          this.pairs.delete(client.data.pair);
          client.data.pair.upstream?.end();
        },
        error: (client) => {
          client.end();
        },
      },
    });
  }

  cut(): void {
    this.up = false;
    for (const pair of this.pairs) {
      pair.upstream?.end();
      pair.client.end();
    }
    this.pairs.clear();
  }

  dropWhenSent(
    text: string | undefined,
    options: { forward?: boolean; once?: boolean; thenCut?: boolean } = {},
  ): void {
    this.tripwire =
      text === undefined
        ? undefined
        : {
            text: Buffer.from(text),
            forward: options.forward ?? false,
            once: options.once ?? false,
            thenCut: options.thenCut ?? false,
          };
  }

  restore(): void {
    this.up = true;
  }

  stop(): void {
    this.cut();
    this.listener?.stop(true);
  }
}
