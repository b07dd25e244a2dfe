/**
 * Refs, ids and persistent pointers of the object heap, all lock-free
 * (generation checks against the object table):
 *
 * - a ref is `(generation mod 2^25) * 2^28 + slot` (a plain number);
 * - an id is 128 bits: instance id (2 u32), generation, slot; as text, 32
 *   hex digits;
 * - a pointer is 24 bytes `{ id (16), offset (u32), 0 (u32) }` and resolves
 *   to a byte offset of the PMO in any worker, E_NOT_FOUND once its object
 *   is freed.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import type { HeapCore } from "./core.ts";
import { Entry, fail, HeapWord, POINTER_BYTES, REF_GEN_MASK, SLOT_SCALE } from "./layout.ts";
import { liveSlot } from "./table.ts";

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

/** Byte offset in the PMO of byte `offset` of object `ref` (lock-free). */
export function resolveRef(h: HeapCore, ref: number, offset = 0): number {
  const slot = liveSlot(h, ref, "resolveRef");
  return resolveSlot(h, slot, h.words[h.table + slot * Entry.WORDS + Entry.GEN], offset);
}

/** Byte `offset` of object `slot` if it is still at generation `gen`: E_NOT_FOUND, E_BAD_ARGUMENT. */
function resolveSlot(h: HeapCore, slot: number, gen: number, offset: number): number {
  const e = h.table + slot * Entry.WORDS;
  const words = h.words;
  const size = words[e + Entry.SIZE];
  const addr = words[e + Entry.ADDR];
  if (size === 0 || words[e + Entry.GEN] !== gen) {
    fail(Err.E_NOT_FOUND, "resolve", `object slot ${slot} generation ${gen >>> 0} was freed`, {
      slot,
    });
  }
  if (!((offset >>> 0) === offset && offset < size)) {
    fail(
      Err.E_BAD_ARGUMENT,
      "resolve",
      `offset ${offset} is outside the object's ${size} bytes`,
      {
        offset: String(offset),
        size,
      },
    );
  }
  return addr + offset;
}

/** Writes the 16-byte id of `ref` as 4 u32s (instance, instance, generation, slot) into `out[at..]`. */
export function writeId(h: HeapCore, ref: number, out: Uint32Array, at = 0): void {
  const slot = liveSlot(h, ref, "writeId");
  out[at] = h.inst0;
  out[at + 1] = h.inst1;
  out[at + 2] = h.words[h.table + slot * Entry.WORDS + Entry.GEN];
  out[at + 3] = slot;
}

/** The 128-bit id of a live object as 32 hex digits. */
export function idOf(h: HeapCore, ref: number): string {
  const slot = liveSlot(h, ref, "idOf");
  return hex8(h.inst0) + hex8(h.inst1) +
    hex8(h.words[h.table + slot * Entry.WORDS + Entry.GEN]) + hex8(slot);
}

/** The ref of a live object from its 32-hex-digit id (E_NOT_FOUND if freed or foreign). */
export function refOf(h: HeapCore, id: string): number {
  if (typeof id !== "string" || !/^[0-9a-f]{32}$/i.test(id)) {
    fail(Err.E_BAD_ARGUMENT, "refOf", `id ${String(id)} is not 32 hex digits`);
  }
  const part = (i: number) => parseInt(id.slice(i * 8, i * 8 + 8), 16);
  return refFromId(h, part(0), part(1), part(2), part(3), "refOf");
}

/** The ref of id (i0, i1, gen, slot) if it names a live object of this heap; E_NOT_FOUND. */
function refFromId(
  h: HeapCore,
  i0: number,
  i1: number,
  gen: number,
  slot: number,
  where: string,
): number {
  if (i0 !== h.inst0 || i1 !== h.inst1) {
    fail(Err.E_NOT_FOUND, where, `id belongs to another heap instance`);
  }
  if (slot >= h.words[HeapWord.HIGH_WATER]) {
    fail(Err.E_NOT_FOUND, where, `no object in slot ${slot}`);
  }
  const e = h.table + slot * Entry.WORDS;
  if ((h.words[e + Entry.GEN] >>> 0) !== gen || h.words[e + Entry.SIZE] === 0) {
    fail(Err.E_NOT_FOUND, where, `object slot ${slot} generation ${gen} was freed`, { slot });
  }
  return (gen & REF_GEN_MASK) * SLOT_SCALE + slot;
}

/** Encodes a persistent pointer to byte `offset` of `ref` into `out[at..at+24)`. */
export function writePointer(
  h: HeapCore,
  ref: number,
  offset: number,
  out: Uint8Array,
  at = 0,
): void {
  const slot = liveSlot(h, ref, "pointer");
  const size = h.words[h.table + slot * Entry.WORDS + Entry.SIZE];
  if (!((offset >>> 0) === offset && offset < size)) {
    fail(Err.E_BAD_ARGUMENT, "pointer", `offset ${offset} is outside the object's ${size} bytes`);
  }
  const v = new DataView(out.buffer, out.byteOffset + at, POINTER_BYTES);
  v.setUint32(0, h.inst0, true);
  v.setUint32(4, h.inst1, true);
  v.setUint32(8, h.words[h.table + slot * Entry.WORDS + Entry.GEN], true);
  v.setUint32(12, slot, true);
  v.setUint32(16, offset, true);
  v.setUint32(20, 0, true);
}

/**
 * Resolves a persistent pointer (24 bytes at `at` of `ptr`) to a byte
 * offset of the PMO: E_NOT_FOUND for a freed or foreign object,
 * E_BAD_ARGUMENT when the offset is not inside the object.
 */
export function resolvePointer(h: HeapCore, ptr: Uint8Array, at = 0): number {
  if (!(ptr instanceof Uint8Array) || at < 0 || at + POINTER_BYTES > ptr.length) {
    fail(Err.E_BAD_ARGUMENT, "resolve", `a pointer is ${POINTER_BYTES} bytes`);
  }
  const v = new DataView(ptr.buffer, ptr.byteOffset + at, POINTER_BYTES);
  const i0 = v.getUint32(0, true);
  const i1 = v.getUint32(4, true);
  const gen = v.getUint32(8, true);
  const slot = v.getUint32(12, true);
  const offset = v.getUint32(16, true);
  if (i0 !== h.inst0 || i1 !== h.inst1) {
    fail(Err.E_NOT_FOUND, "resolve", "pointer belongs to another heap instance");
  }
  if (slot >= h.words[HeapWord.HIGH_WATER]) {
    fail(Err.E_NOT_FOUND, "resolve", `no slot ${slot}`);
  }
  return resolveSlot(h, slot, gen | 0, offset);
}
