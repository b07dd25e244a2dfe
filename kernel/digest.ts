/**
 * A digest of the whole system state: the kernel memory object (every
 * object record and capability) and every PMO's pages, in id order. Used to
 * prove that resume is exact: the digest taken inside a checkpoint's pause
 * equals the digest of the restored state (tests/persistence/).
 *
 * @module
 */

import type { PmoBuffers } from "./abi/layout.ts";

/** FNV-1a over 32-bit words, folded across buffers; returns 8 hex digits. */
export function digestState(kernel: PmoBuffers, pmos: Array<[number, PmoBuffers]>): string {
  let h = 0x811c9dc5;
  const mix = (id: number, buf: SharedArrayBuffer) => {
    h = Math.imul(h ^ id, 0x01000193);
    const words = new Int32Array(buf, 0, buf.byteLength >> 2);
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  };
  mix(0, kernel.data);
  const parts = [(h >>> 0).toString(16)];
  for (const [id, bufs] of [...pmos].sort((a, b) => a[0] - b[0])) {
    mix(id, bufs.data);
    parts.push(id + ":" + (h >>> 0).toString(16));
  }
  console.error("parts " + parts.join(" "));
  return (h >>> 0).toString(16).padStart(8, "0");
}
