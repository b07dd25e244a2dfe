/**
 * A real redis-server (Debian's redis-server) started on a free port of
 * 127.0.0.1 with persistence off (`--save '' --appendonly no`), its files
 * in a temporary directory: the reference the store is compared with by
 * the differential run (tools/kv_diff.ts) and the bad-input tests.
 *
 * @module
 */

import { freePort } from "./echo_client.ts";
import { bulkText, RespConn } from "./resp_client.ts";

/** Longest a redis-server may take to say it accepts connections. */
export const REDIS_START_MS_MAX = 10_000;

/** A redis-server child process and its port. */
export class RedisProcess {
  private constructor(
    private readonly child: Deno.ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {}

  /**
   * Starts redis-server on a free port with persistence off (`extra`: more
   * server flags; a later flag wins, so `--appendonly yes` turns it on),
   * its files in `dir` (default: a fresh temporary directory, removed by
   * {@link stop}); resolves once it says it accepts connections, and
   * throws with its log if it exits first or is not ready within
   * {@link REDIS_START_MS_MAX}.
   */
  static async start(extra: string[] = [], dir?: string): Promise<RedisProcess> {
    dir ??= Deno.makeTempDirSync({ prefix: "tardigrade-redis-" });
    const port = freePort();
    const child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        ...extra,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const r = new RedisProcess(child, port, dir);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) =>
      timer = setTimeout(
        () =>
          reject(
            new Error(`redis-server on port ${port} not ready within ${REDIS_START_MS_MAX} ms`),
          ),
        REDIS_START_MS_MAX,
      )
    );
    try {
      await Promise.race([r.ready(), late]);
      await r.checkOwnPort();
    } catch (e) {
      await r.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return r;
  }

  /**
   * Throws unless the server on the port is this process (another may have
   * taken the free port first: then this one failed to bind).
   */
  private async checkOwnPort(): Promise<void> {
    const conn = await RespConn.connect(this.port);
    try {
      const info = bulkText(await conn.call("INFO", "server")) ?? "";
      if (!info.includes(`process_id:${this.child.pid}\r\n`)) {
        throw new Error(`port ${this.port} answered for another redis-server; run again`);
      }
    } finally {
      conn.close();
    }
  }

  /** Resolves on the "Ready to accept connections" line; throws with the log if it exits first. */
  private async ready(): Promise<void> {
    const decoder = new TextDecoder();
    let log = "";
    const reader = this.child.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        const err = decoder.decode((await this.child.output().catch(() => undefined))?.stderr);
        throw new Error(
          `redis-server on port ${this.port} exited before it was ready: ${log}${err}`,
        );
      }
      log += decoder.decode(value, { stream: true });
      if (log.includes("Ready to accept connections")) break;
    }
    // Keep draining its log so the server never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* ended */ }
    })();
    this.child.stderr.cancel().catch(() => {});
  }

  /** Stops the server (SIGKILL: nothing of it is kept) and removes its directory. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* exited already */ }
    await this.child.status;
    Deno.removeSync(this.dir, { recursive: true });
  }
}
