/**
 * The name table of the object heap (Temporality's name-based allocation):
 * open addressing over FNV-1a hashes of names of at most
 * {@link NAME_BYTES_MAX} bytes of UTF-8; an entry is live when its state
 * word is USED (written last) and becomes a TOMBSTONE when deleted.
 *
 * - {@link encodeName}: the name into the HeapCore's scratch, and its hash.
 * - {@link findName}: the entry of the scratch name, or where to insert it.
 * - {@link publishName}, {@link dropName}: write and delete an entry.
 * - {@link nameRef}, {@link listNames}: read entries.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import type { HeapCore } from "./core.ts";
import {
  Entry,
  fail,
  HeapWord,
  Name,
  NAME_BYTES_MAX,
  NameState,
  REF_GEN_MASK,
  SLOT_SCALE,
} from "./layout.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes `name` into the scratch buffer; returns its FNV-1a hash. */
export function encodeName(h: HeapCore, name: string, where: string): number {
  if (typeof name !== "string" || name.length === 0) {
    fail(Err.E_BAD_ARGUMENT, where, "a name must be a non-empty string");
  }
  const r = encoder.encodeInto(name, h.nameScratch);
  if (r.read !== name.length) {
    fail(Err.E_BAD_ARGUMENT, where, `name is longer than ${NAME_BYTES_MAX} bytes of UTF-8`, {
      chars: name.length,
    });
  }
  const len = r.written;
  h.nameLen = len;
  let hash = 0x811c9dc5;
  for (let i = 0; i < len; i++) hash = Math.imul(hash ^ h.nameScratch[i], 0x01000193);
  return hash | 0;
}

/** Index of the USED entry of the scratch name; `-(insertAt + 1)` when absent (or -capacity-1 when full). */
export function findName(h: HeapCore, hash: number): number {
  const words = h.words;
  const mask = h.nameMask;
  const len = h.nameLen;
  let insertAt = -1;
  let i = (hash >>> 0) & mask;
  for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
    const e = h.names + i * Name.WORDS;
    const state = words[e + Name.STATE];
    if (state === NameState.EMPTY) return -((insertAt >= 0 ? insertAt : i) + 1);
    if (state === NameState.TOMBSTONE) {
      if (insertAt < 0) insertAt = i;
      continue;
    }
    if (words[e + Name.HASH] !== hash || words[e + Name.LEN] !== len) continue;
    const at = (e + Name.BYTES) << 2;
    let same = true;
    for (let k = 0; k < len; k++) {
      if (h.mem.bytes[at + k] !== h.nameScratch[k]) {
        same = false;
        break;
      }
    }
    if (same) return i;
  }
  return -((insertAt >= 0 ? insertAt : mask + 1) + 1);
}

/**
 * Writes the scratch name into free or tombstoned entry `idx` for object
 * `slot` and publishes it (state word last); counts it. Caller holds the
 * writer lock and has checked that the table has room.
 */
export function publishName(h: HeapCore, idx: number, hash: number, slot: number): void {
  const e = h.names + idx * Name.WORDS;
  const wasTomb = h.words[e + Name.STATE] === NameState.TOMBSTONE;
  h.set(e + Name.HASH, hash);
  h.set(e + Name.LEN, h.nameLen);
  h.set(e + Name.SLOT, slot);
  h.set(e + Name.GEN, h.words[h.table + slot * Entry.WORDS + Entry.GEN]);
  h.mem.write((e + Name.BYTES) << 2, h.nameScratch.subarray(0, h.nameLen));
  h.set(e + Name.STATE, NameState.USED); // publishes the name
  h.set(HeapWord.NAME_COUNT, h.words[HeapWord.NAME_COUNT] + 1);
  if (wasTomb) h.set(HeapWord.NAME_TOMBSTONES, h.words[HeapWord.NAME_TOMBSTONES] - 1);
}

/** The ref recorded in live name entry `i`. */
export function nameRef(h: HeapCore, i: number): number {
  const e = h.names + i * Name.WORDS;
  const slot = h.words[e + Name.SLOT];
  return (h.words[e + Name.GEN] & REF_GEN_MASK) * SLOT_SCALE + slot;
}

/** The object slot recorded in live name entry `i`. */
export function nameSlot(h: HeapCore, i: number): number {
  return h.words[h.names + i * Name.WORDS + Name.SLOT];
}

/** Marks name entry `i` (of object `slot`) deleted. */
export function dropName(h: HeapCore, i: number, slot: number): void {
  const e = h.names + i * Name.WORDS;
  if (h.words[e + Name.STATE] !== NameState.USED || h.words[e + Name.SLOT] !== slot) return;
  h.set(e + Name.STATE, NameState.TOMBSTONE);
  h.set(HeapWord.NAME_COUNT, h.words[HeapWord.NAME_COUNT] - 1);
  h.set(HeapWord.NAME_TOMBSTONES, h.words[HeapWord.NAME_TOMBSTONES] + 1);
}

/** Every name, in table order. */
export function listNames(h: HeapCore): string[] {
  const out: string[] = [];
  for (let i = 0; i <= h.nameMask; i++) {
    const e = h.names + i * Name.WORDS;
    if (h.words[e + Name.STATE] !== NameState.USED) continue;
    out.push(
      decoder.decode(
        h.mem.bytes.slice(
          (e + Name.BYTES) << 2,
          ((e + Name.BYTES) << 2) + h.words[e + Name.LEN],
        ),
      ),
    );
  }
  return out;
}
