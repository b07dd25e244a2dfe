/**
 * What a program sees: the {@link Context} handed to `main` by runProgram
 * (program.ts, which builds it): its system calls, its named capabilities,
 * the console, and the ways to serve, connect, map and wait.
 *
 * @module
 */

import type { ClientConnection, Waiter } from "./client.ts";
import type { SlotNames } from "./names.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import type { RequestHandler } from "./server.ts";
import type { Sys } from "./sys.ts";

/** What a program sees. */
export interface Context {
  readonly sys: Sys;
  readonly threadId: number;
  readonly capGroupId: number;
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** True when this thread existed before (resume or restart): rebuild from PMOs. */
  readonly resumed: boolean;
  /** Its named capabilities: given by its parent, and kept in its slot record (names.ts). */
  readonly names: SlotNames;
  /** The slot of the capability named `name` (e.g. "fs"); E_NOT_FOUND if it has none. */
  cap(name: string): number;
  /** For blocking calls (`callSync`): marks this worker waiting while it blocks. */
  readonly waiter: Waiter;
  /** Console output, released when the checkpoint covering it commits. Adds a newline. */
  print(text: string): void;
  /** Bytes `print` may take now (the console ring less its text not yet released); more is dropped. */
  consoleRoom(): number;
  /**
   * A diagnostic line to the machine log. It leaves at once, not held for a
   * commit like `print`, so it may describe state a crash undoes: the
   * supervisor shows it apart from guest output (stderr, `[log] NAME#ID:`).
   */
  log(text: string): void;
  /** Serves an endpoint: `handler` runs for each request of every connection to it. */
  serve(endpointSlot: number, handler: RequestHandler): Promise<void>;
  /** Opens a connection to an endpoint. */
  connect(endpointSlot: number): Promise<ClientConnection>;
  /** Re-attaches a connection capability after a resume. */
  attach(connSlot: number): Promise<ClientConnection>;
  /** Maps a memory object. */
  map(pmoSlot: number, writable?: boolean): Promise<PersistentMemory>;
  /**
   * Runs `handler(bits)` whenever the notification in `slot` is signalled.
   * A handler that returns a promise is one step until it settles.
   */
  onNotification(slot: number, handler: (bits: number) => unknown): Promise<void>;
  /** Runs `handler` when a capability arrives through a connection (cap_transfer). */
  onCapability(handler: (slot: number, badge: number, connId: number) => void): void;
  /**
   * Runs `handler` whenever nothing else is pending: background work in
   * short steps, each a handler between two safe points. Return true while
   * there is more to do (the worker then never sleeps).
   */
  onIdle(handler: () => boolean): void;
  /**
   * Runs `handler(connId, restarting)` when a connection this program
   * serves is closed: for good (the client's cap group died, or its
   * capability was revoked), or, with `restarting` true, while the client's
   * worker restarts (its connection comes back with it). Each time this
   * program serves an endpoint, the kernel tells it again of every
   * connection to it closed for good (a close told before may have been
   * lost to a crash or a restart), so the handler must be idempotent.
   */
  onConnectionClosed(handler: (connId: number, restarting: boolean) => void): void;
}
