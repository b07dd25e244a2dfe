/**
 * The store's storage (servers/apps/kv/store/): over the persistent heap
 * and its hash tables (servers/pmem/heap.ts, table.ts), lists (list.ts), the volatile
 * sorted-set order (zset_index.ts) and the keyspace over them
 * (keyspace.ts); {@link openStore} formats or attaches them in one mapped
 * memory object.
 *
 * @module
 */

import type { PersistentMemory } from "../../../../kernel/abi/pmem.ts";
import { PersistentHeap } from "../../../pmem/heap.ts";
import { NvmKeyspace } from "./keyspace.ts";

export { PersistentHeap } from "../../../pmem/heap.ts";
export { NvmKeyspace } from "./keyspace.ts";

/**
 * The heap and keyspace in `mem`: formatted (with a random hash seed) when
 * `mem` is all zero at its header, as a memory object fresh from the
 * memory server is; attached otherwise. Throws E_IMAGE_CORRUPT or
 * E_IMAGE_VERSION when `mem` holds something else.
 *
 * @example
 * ```ts
 * const { keyspace, fresh } = openStore(new PersistentMemory(buffers));
 * ```
 */
export function openStore(
  mem: PersistentMemory,
): { heap: PersistentHeap; keyspace: NvmKeyspace; fresh: boolean } {
  if (isZeroHeader(mem)) {
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    const heap = PersistentHeap.format(mem, seed);
    return { heap, keyspace: NvmKeyspace.format(heap), fresh: true };
  }
  const heap = PersistentHeap.attach(mem);
  return { heap, keyspace: NvmKeyspace.attach(heap), fresh: false };
}

/** True when the first 64 bytes of `mem` are zero (a never-formatted object). */
function isZeroHeader(mem: PersistentMemory): boolean {
  for (let i = 0; i < 64; i++) if (mem.bytes[i] !== 0) return false;
  return true;
}
