/**
 * Copies of bytes out of the heap, cheaply: {@link copyOut} hands out
 * views into a 64 KiB JS buffer it fills front to back, taking a new one
 * when it is full, so a returned value costs a view and a copy instead of
 * an ArrayBuffer of its own (which costs V8 several times more than
 * the lookup that found the value). A copy never aliases the heap or
 * another copy; a buffer lives as long as any view into it. Values larger
 * than COPY_SLICE_BYTES get an ArrayBuffer of their own. Callers must not
 * use a returned array's `.buffer` beyond its own bytes.
 *
 * @module
 */

/** Bytes of each shared buffer. */
const ARENA_BYTES = 64 * 1024;
/** Values above this many bytes are copied into an ArrayBuffer of their own. */
export const COPY_SLICE_BYTES = 4096;

let arena = new Uint8Array(ARENA_BYTES);
let used = 0;

/** A copy of `bytes[from, from+length)` that nothing else writes to. */
export function copyOut(bytes: Uint8Array, from: number, length: number): Uint8Array {
  if (length > COPY_SLICE_BYTES) return bytes.slice(from, from + length);
  if (used + length > ARENA_BYTES) {
    arena = new Uint8Array(ARENA_BYTES);
    used = 0;
  }
  const at = used;
  used += length;
  const a = arena;
  if (length <= 32) { for (let i = 0; i < length; i++) a[at + i] = bytes[from + i]; }
  else a.set(bytes.subarray(from, from + length), at);
  return a.subarray(at, at + length);
}
