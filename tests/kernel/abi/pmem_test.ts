/**
 * The write barrier of kernel/abi/pmem.ts on hand-made buffers: a store
 * that straddles a 4 KiB page boundary marks both pages DIRTY and, in a
 * copy-on-write window, saves both pages' pre-images to the backup buffer,
 * whatever state each page was in before; a zero-length write marks nothing.
 *
 * Run: `deno test tests/kernel/abi/pmem_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PageState } from "../../../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../../kernel/abi/pmem.ts";

/** A store that straddles the boundary between page 1 and page 2, and how many bytes it writes. */
interface Store {
  name: string;
  bytes: number;
  run(mem: PersistentMemory, at: number): void;
  check(mem: PersistentMemory, at: number): void;
}

const STORES: Store[] = [
  {
    name: "setU32",
    bytes: 4,
    run: (m, at) => m.setU32(at, 0xdeadbeef),
    check: (m, at) => assert.equal(m.getU32(at), 0xdeadbeef),
  },
  {
    name: "setF64",
    bytes: 8,
    run: (m, at) => m.setF64(at, 2 ** 52 + 7),
    check: (m, at) => assert.equal(m.getF64(at), 2 ** 52 + 7),
  },
  {
    name: "write",
    bytes: 6,
    run: (m, at) => m.write(at, Uint8Array.of(1, 2, 3, 4, 5, 6)),
    check: (m, at) => assert.deepEqual([...m.read(at, 6)], [1, 2, 3, 4, 5, 6]),
  },
  {
    name: "fill",
    bytes: 10,
    run: (m, at) => m.fill(at, 10, 0x5a),
    check: (m, at) => assert.ok(m.read(at, 10).every((b) => b === 0x5a)),
  },
];

/** Every state a page can be in when a writer comes (COW_COPYING only lasts while a copy runs). */
const BEFORE = [PageState.CLEAN, PageState.DIRTY, PageState.COW_PENDING];

/** A 4-page PMO whose every byte is distinct-ish (page number and offset), pages in `states`. */
function pmo(states: PageState[]) {
  const bufs = allocatePmoBuffers(9, 4);
  const data = new Uint8Array(bufs.data);
  for (let i = 0; i < data.length; i++) data[i] = ((i >> 12) * 31 + i) & 0xff;
  new Uint8Array(bufs.pageState).set(states);
  return {
    mem: new PersistentMemory(bufs),
    state: new Uint8Array(bufs.pageState),
    backup: new Uint8Array(bufs.backup),
    preImage: data.slice(),
  };
}

const page = (bytes: Uint8Array, p: number) => bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);

for (const store of STORES) {
  Deno.test(`pmem: ${store.name} across a page boundary marks both pages and saves both CoW pre-images`, () => {
    for (const first of BEFORE) {
      for (const second of BEFORE) {
        const what = `${store.name}, page 1 ${PageState[first]}, page 2 ${PageState[second]}`;
        const { mem, state, backup, preImage } = pmo([PageState.CLEAN, first, second, 0]);
        const at = 2 * PAGE_BYTES - (store.bytes >> 1); // half in page 1, half in page 2
        store.run(mem, at);
        store.check(mem, at);
        assert.deepEqual([...state], [0, PageState.DIRTY, PageState.DIRTY, 0], what);
        for (const [p, s] of [[1, first], [2, second]]) {
          if (s !== PageState.COW_PENDING) continue;
          assert.deepEqual(page(backup, p), page(preImage, p), `${what}: page ${p}'s pre-image`);
        }
      }
    }
  });
}

Deno.test("pmem: an aligned store inside one page marks only that page", () => {
  const { mem, state } = pmo([0, 0, 0, 0]);
  mem.setF64(PAGE_BYTES - 8, 1.5);
  mem.atomicStore((3 * PAGE_BYTES) >> 2, 1);
  assert.deepEqual([...state], [PageState.DIRTY, 0, 0, PageState.DIRTY]);
});

Deno.test("pmem: a zero-length write marks no page, even at the end of the PMO", () => {
  const { mem, state } = pmo([0, 0, 0, 0]);
  mem.write(4 * PAGE_BYTES, new Uint8Array(0));
  mem.fill(PAGE_BYTES, 0);
  assert.deepEqual([...state], [0, 0, 0, 0]);
});

Deno.test("pmem: a store past the end or on a read-only mapping is refused with a named error", () => {
  const { mem } = pmo([PageState.DIRTY, 0, 0, PageState.DIRTY]);
  const refused = (code: Err, f: () => void) =>
    assert.throws(f, (e) => e instanceof TardigradeError && e.code === code);
  refused(Err.E_BAD_ARGUMENT, () => mem.setU32(4 * PAGE_BYTES - 2, 1));
  refused(Err.E_BAD_ARGUMENT, () => mem.setU8(-1, 1));
  const bufs = allocatePmoBuffers(9, 1);
  new Uint8Array(bufs.pageState).fill(PageState.DIRTY);
  refused(Err.E_NO_RIGHTS, () => new PersistentMemory(bufs, false).setU32(0, 1));
});
