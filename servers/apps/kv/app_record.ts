/**
 * The kv store's own record in its heap, at app root {@link ROOT_APP}: the
 * figures that must outlive a resume and a restart but belong to no key or
 * connection: the next CLIENT ID, the Unix ms the store first started
 * (INFO uptime), the commands processed (INFO stats), and the CONFIG
 * parameters set with CONFIG SET (their JSON text in a heap block of its
 * own, rewritten only when CONFIG SET changes them).
 *
 * Layout ({@link Field}): u32 magic, u32 config block (0: none), u32 config
 * length, u32 reserved, f64 next client id, f64 started at, f64 commands
 * processed.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { Heap } from "./keyspace.ts";

/** App root word of the store's record. */
export const ROOT_APP = 1;
/** "KVAP": a record of this layout. */
const MAGIC = 0x5041564b;

/** Byte offsets within the record. */
enum Field {
  MAGIC = 0,
  CONFIG = 4,
  CONFIG_LENGTH = 8,
  NEXT_ID = 16,
  STARTED_AT = 24,
  COMMANDS = 32,
  /** Bytes of the record. */
  BYTES = 40,
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The store's record, read and written through the heap's memory. */
export class AppRecord {
  private readonly at: number;

  /** Finds the record (making it on a fresh heap, started now at `now`). */
  constructor(private readonly heap: Heap, now: number) {
    let at = heap.root(ROOT_APP);
    if (at === 0) {
      at = heap.alloc(Field.BYTES);
      heap.mem.fill(at, Field.BYTES);
      heap.mem.setU32(at + Field.MAGIC, MAGIC);
      heap.mem.setF64(at + Field.NEXT_ID, 1);
      heap.mem.setF64(at + Field.STARTED_AT, now);
      heap.setRoot(ROOT_APP, at);
    } else if (heap.mem.getU32(at + Field.MAGIC) !== MAGIC) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `kv: app root ${ROOT_APP} of the heap is not the store's record (magic ` +
          `${
            heap.mem.getU32(at + Field.MAGIC).toString(16)
          }): boot with --fresh to format a new store`,
      );
    }
    this.at = at;
  }

  /** Unix ms the store first started. */
  get startedAt(): number {
    return this.heap.mem.getF64(this.at + Field.STARTED_AT);
  }

  /** A new CLIENT ID (unique for the store's lifetime). */
  takeClientId(): number {
    const id = this.heap.mem.getF64(this.at + Field.NEXT_ID);
    this.heap.mem.setF64(this.at + Field.NEXT_ID, id + 1);
    return id;
  }

  /** Commands processed since the store first started. */
  get commands(): number {
    return this.heap.mem.getF64(this.at + Field.COMMANDS);
  }

  set commands(n: number) {
    this.heap.mem.setF64(this.at + Field.COMMANDS, n);
  }

  /** The CONFIG parameters kept (empty on a fresh store). */
  loadConfig(): Map<string, string> {
    const block = this.heap.mem.getU32(this.at + Field.CONFIG);
    if (block === 0) return new Map();
    const len = this.heap.mem.getU32(this.at + Field.CONFIG_LENGTH);
    const text = decoder.decode(this.heap.mem.bytes.subarray(block, block + len));
    return new Map(Object.entries(JSON.parse(text) as Record<string, string>));
  }

  /** Keeps `config` (throws E_NO_MEMORY, keeping the old one, when the heap is full). */
  saveConfig(config: Map<string, string>): void {
    const bytes = encoder.encode(JSON.stringify(Object.fromEntries(config)));
    const block = this.heap.alloc(Math.max(bytes.length, 8));
    this.heap.mem.write(block, bytes);
    const old = this.heap.mem.getU32(this.at + Field.CONFIG);
    this.heap.mem.setU32(this.at + Field.CONFIG, block);
    this.heap.mem.setU32(this.at + Field.CONFIG_LENGTH, bytes.length);
    if (old !== 0) this.heap.free(old);
  }
}
