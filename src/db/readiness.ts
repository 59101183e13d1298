import mysql from "mysql2/promise";
import type { DatabaseHealth } from "./health";

/**
 * Answers "does the database answer?" within `timeoutMs` whatever the database does: probes
 * (Kubernetes, load balancers) time out after 1 to 5 s, and a probe that hangs tells them
 * nothing. One connection of its own, so a busy pool never makes a healthy database look down.
 */
/**
 * A Galera node answers queries while it is not part of the cluster's primary component (or
 * still catching up), and refuses writes then: ready means Synced. A server without wsrep has
 * no such status, and is ready when it answers.
 */
function synced(rows: unknown): boolean {
  const [state] = rows as { Value?: string }[];
  return state === undefined || state.Value === "Synced";
}

export class ReadinessProbe {
  private conn: Promise<mysql.Connection> | undefined;

  constructor(
    private readonly url: string,
    private readonly health: DatabaseHealth,
    private readonly timeoutMs = 1000,
  ) {}

  check(): Promise<boolean> {
    this.conn ??= mysql.createConnection({ uri: this.url, connectTimeout: this.timeoutMs });
    const conn = this.conn;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ok) {
          this.health.answered();
        } else {
          this.drop(conn);
          this.health.failed("unreachable");
        }
        resolve(ok);
      };
      const timer = setTimeout(() => settle(false), this.timeoutMs);
      conn
        .then((c) => c.query("SHOW STATUS LIKE 'wsrep_local_state_comment'"))
        .then(
          ([rows]) => settle(synced(rows)),
          () => settle(false),
        );
    });
  }

  close(): void {
    if (this.conn) this.drop(this.conn);
  }

  /** Forgets a connection that failed; a later check opens a new one. */
  private drop(conn: Promise<mysql.Connection>): void {
    if (this.conn === conn) this.conn = undefined;
    conn.then(
      (c) => c.destroy(),
      () => undefined,
    );
  }
}
