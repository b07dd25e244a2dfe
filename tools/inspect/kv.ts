/**
 * The kv store of a committed image: the kv app's kept PMO (`heap`) copied
 * out of the image and attached by the store itself
 * (servers/apps/kv/store/ `PersistentHeap.attach`, `NvmKeyspace.attach`;
 * never formatted), and its key count per database.
 *
 * @module
 */

import { DATABASES } from "../../servers/apps/kv/keyspace.ts";
import { NvmKeyspace, PersistentHeap } from "../../servers/apps/kv/store/mod.ts";
import { type KeptPmo, keptPmo, type KernelView } from "./kernel.ts";

/** The store, or why there is none to show. */
export type KvReport =
  | { state: "absent" | "unformatted" }
  | {
    state: "ok";
    /** Keys of every database that has any, by its number. */
    keys: Record<string, number>;
    totalKeys: number;
    usedBytes: number;
    capacityBytes: number;
  };

/** The kv app's store in the image (cap group "kv"); the store's errors are thrown. */
export function kvReport(k: KernelView, kept: KeptPmo[]): KvReport {
  const rec = keptPmo(kept, "kv", "heap");
  if (!rec) return { state: "absent" };
  const mem = k.pmoMemory(rec);
  if (mem.bytes.subarray(0, 64).every((b) => b === 0)) return { state: "unformatted" };
  const keyspace = NvmKeyspace.attach(PersistentHeap.attach(mem));
  const keys: Record<string, number> = {};
  let totalKeys = 0;
  for (let db = 0; db < DATABASES; db++) {
    const n = keyspace.size(db);
    if (n > 0) keys[String(db)] = n;
    totalKeys += n;
  }
  return {
    state: "ok",
    keys,
    totalKeys,
    usedBytes: keyspace.usedBytes(),
    capacityBytes: keyspace.capacityBytes(),
  };
}
