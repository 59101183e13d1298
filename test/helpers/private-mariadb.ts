import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";
import mysql from "mysql2/promise";

const ROOT = join(import.meta.dir, "..", "..", ".mariadb");
const TEMPLATE = join(ROOT, "template");

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

function run(cmd: string[]): void {
  const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  }
}

/** An initialised data directory, made once and copied for each server. */
function ensureTemplate(): void {
  if (existsSync(join(TEMPLATE, "mysql"))) return;
  mkdirSync(ROOT, { recursive: true });
  rmSync(TEMPLATE, { recursive: true, force: true });
  run([
    "mariadb-install-db",
    "--no-defaults",
    "--user=mysql",
    `--datadir=${TEMPLATE}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ]);
}

/**
 * A MariaDB server of a test's own, on a free port, with its data under the project's ignored
 * `.mariadb/` folder: a test may kill it with SIGKILL and start it again on the same data
 * without touching the machine's server.
 */
export class PrivateMariaDb {
  private proc: Subprocess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async create(): Promise<PrivateMariaDb> {
    ensureTemplate();
    const port = await freePort();
    const dir = join(ROOT, `test-${port}`);
    rmSync(dir, { recursive: true, force: true });
    cpSync(TEMPLATE, join(dir, "data"), { recursive: true });
    run(["chown", "-R", "mysql:mysql", dir]);
    const db = new PrivateMariaDb(port, dir);
    await db.start();
    return db;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server on its data and waits until it answers a query. */
  async start(): Promise<void> {
    this.proc = Bun.spawn(
      [
        "mariadbd",
        "--no-defaults",
        "--user=mysql",
        `--datadir=${join(this.dir, "data")}`,
        `--port=${this.port}`,
        "--bind-address=127.0.0.1",
        `--socket=${join(this.dir, "mysqld.sock")}`,
        `--pid-file=${join(this.dir, "mysqld.pid")}`,
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
      ],
      { stdout: "ignore", stderr: Bun.file(join(this.dir, "mariadbd.log")) },
    );
    for (let i = 0; i < 300; i++) {
      if (await this.answers()) return;
      if (this.proc.exitCode !== null) break;
      await Bun.sleep(100);
    }
    throw new Error(`private MariaDB on ${this.port} did not start; see ${this.dir}/mariadbd.log`);
  }

  async answers(): Promise<boolean> {
    try {
      const conn = await mysql.createConnection({
        host: "127.0.0.1",
        port: this.port,
        user: "root",
        connectTimeout: 500,
      });
      await conn.query("SELECT 1");
      await conn.end();
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL, as a crash or an OOM kill would: no clean shutdown, recovery on the next start. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGKILL");
    await proc.exited;
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
