/**
 * The store without a machine: {@link Commands} over an NvmKeyspace on a
 * fresh memory object, with a host and a session as the app gives them.
 * What the command tests compare with redis-server and what the
 * in-process command bench (tools/bench/kv_commands_bench.ts) times.
 *
 * @module
 */

import { allocatePmoBuffers, PersistentMemory } from "../kernel/abi/pmem.ts";
import { Commands } from "../servers/apps/kv/commands/mod.ts";
import type { Keyspace } from "../servers/apps/kv/keyspace.ts";
import { OutputWriter } from "../servers/apps/kv/resp.ts";
import { type Host, newSession as newKvSession, type Session } from "../servers/apps/kv/session.ts";
import { openStore } from "../servers/apps/kv/store/mod.ts";

const encoder = new TextEncoder();

/** A session as the app keeps one for a new connection. */
export function newSession(id: number): Session {
  return newKvSession(id, "127.0.0.1:1");
}

/** A store of `pages` pages in process, one session, and a reply buffer. */
export class InProcessStore {
  readonly keyspace: Keyspace;
  readonly host: Host;
  readonly commands: Commands;
  readonly session: Session = newSession(1);
  /** The reply buffer `run` and `call` write into. */
  readonly out = new OutputWriter(1 << 20);

  constructor(pages = 1024) {
    this.keyspace = openStore(new PersistentMemory(allocatePmoBuffers(1, pages))).keyspace;
    const sessions = [this.session];
    this.host = {
      keyspace: this.keyspace,
      config: new Map(),
      configChanged() {},
      sessions: () => sessions,
      startedAt: Date.now(),
      port: 6379,
      persistence: () => ({
        checkpointPeriodMs: 5,
        checkpointsCommitted: 0,
        lastCommitUnixMs: 0,
        lastPauseUs: 0,
      }),
      commandsProcessed: 0,
    };
    this.commands = new Commands(this.host);
  }

  /** Runs `argv` `times` times, the replies dropped. */
  run(argv: Uint8Array[], times = 1): void {
    for (let i = 0; i < times; i++) {
      this.out.reset();
      this.commands.execute(this.session, argv, this.out);
    }
  }

  /** Runs one command and returns its reply's bytes. */
  call(args: Array<string | Uint8Array>): Uint8Array {
    this.run(args.map((a) => (typeof a === "string" ? encoder.encode(a) : a)));
    return this.out.bytes().slice();
  }
}
