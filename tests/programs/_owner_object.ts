/**
 * The named memory object tests/programs/owner.ts makes and
 * tests/programs/hostile.ts and memtest.ts attack, and how they find it.
 *
 * @module
 */

import type { MemoryClient } from "../../servers/memory/client.ts";

/** Its name at the memory server. */
export const OWNER_OBJECT = "owner:file";
/** What it holds. */
export const OWNER_BYTES = "not yours";

/** The object owner.ts made (it starts beside the caller: waits for it, up to 1,000 tries). */
export async function ownerObject(memory: MemoryClient): Promise<{ id: string; owner: number }> {
  for (let i = 0;; i++) {
    try {
      return await memory.open(OWNER_OBJECT);
    } catch (e) {
      if (i >= 1000) throw e;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
