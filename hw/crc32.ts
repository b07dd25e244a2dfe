/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320), as used by every
 * checksum in the NVM image.
 *
 * Large inputs go to the native `crc32` of `node:zlib` (about 10 GB/s); inputs
 * shorter than {@link NATIVE_MIN_BYTES} use a byte-wise table loop in
 * JavaScript, which beats the native call's fixed cost for the 12-byte slot
 * headers. Both give the same value for the same bytes and seed.
 *
 * @module
 */

import { crc32 as nativeCrc32 } from "node:zlib";

/** Inputs at least this long use the native implementation. */
const NATIVE_MIN_BYTES = 32;

/** The 256-entry lookup table of the reflected polynomial. */
const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32 of `bytes`, continuing from `seed` (the CRC of the bytes before
 * them, 0 to start). Returns an unsigned 32-bit integer, so
 * `crc32(b) === crc32(b.subarray(k), crc32(b.subarray(0, k)))`.
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  if (bytes.length >= NATIVE_MIN_BYTES) return nativeCrc32(bytes, seed >>> 0) >>> 0;
  let c = ~seed;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
