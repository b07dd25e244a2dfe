/**
 * A file's bytes: read, write and set the length through its page map
 * (pages.ts), charging and crediting its client (quota.ts). Bytes of a
 * file's last page past its length are kept zero (truncate zeroes them),
 * and a page a write allocates is zeroed where the write does not cover
 * it, so holes and growth read as zeros.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { FILE_BYTES_MAX, FsErrno, FsError } from "../vfs.ts";
import { I, type Inodes } from "./inode.ts";
import type { DataPages, PageMaps } from "./pages.ts";
import type { Quotas } from "./quota.ts";

/** Reads and writes of file contents. */
export class FileData {
  constructor(
    private readonly inodes: Inodes,
    private readonly pages: DataPages,
    private readonly maps: PageMaps,
    private readonly quotas: Quotas,
    private readonly mem: PersistentMemory,
  ) {}

  /** Up to `length` bytes at `pos` (fewer at the end, none past it). */
  read(ino: number, pos: number, length: number): Uint8Array {
    const size = this.inodes.getF(ino, I.SIZE);
    const n = Math.max(0, Math.min(length, size - pos));
    const out = new Uint8Array(n);
    const pages = this.pages;
    for (let done = 0; done < n;) {
      const at = pos + done;
      const inPage = at & (PAGE_BYTES - 1);
      const chunk = Math.min(PAGE_BYTES - inPage, n - done);
      const e = this.maps.lookup(ino, Math.floor(at / PAGE_BYTES));
      if (e !== 0) {
        const from = pages.offset(e - 1) + inPage;
        out.set(pages.segment(e - 1).bytes.subarray(from, from + chunk), done);
      }
      done += chunk;
    }
    return out;
  }

  /**
   * Writes `data` at `pos` (≥ 0); returns the count written, short when
   * the client's quota, the data pages or the metadata heap run out
   * part-way (ENOSPC when nothing fits; EFBIG when `pos` is at or past
   * FILE_BYTES_MAX). Updates the size and times.
   */
  write(ino: number, pos: number, data: Uint8Array, now: number): number {
    if (data.length === 0) return 0;
    if (pos >= FILE_BYTES_MAX) {
      throw new FsError(FsErrno.EFBIG, `write at ${pos}: a file ends at ${FILE_BYTES_MAX} bytes`);
    }
    const inodes = this.inodes;
    const client = inodes.get(ino, I.CLIENT);
    const n = Math.min(data.length, FILE_BYTES_MAX - pos);
    let room = -1; // looked up at the first hole
    let done = 0;
    let added = 0;
    let why = "";
    while (done < n) {
      const at = pos + done;
      const index = Math.floor(at / PAGE_BYTES);
      const inPage = at & (PAGE_BYTES - 1);
      const chunk = Math.min(PAGE_BYTES - inPage, n - done);
      const src = data.subarray(done, done + chunk);
      const e = this.maps.lookup(ino, index);
      if (e !== 0) {
        this.pages.segment(e - 1).write(this.pages.offset(e - 1) + inPage, src);
      } else {
        if (room < 0) {
          try {
            this.quotas.ensure(client);
          } catch (e) {
            if (!(e instanceof FsError)) throw e;
            why = "the metadata heap is full";
            break;
          }
          room = this.quotas.room(client);
        }
        if (room < 1) {
          why = `client ${client} is at its quota of blocks`;
          break;
        }
        let page: number;
        try {
          page = this.pages.alloc();
        } catch (e) {
          if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
          why = "no data block is free";
          break;
        }
        let slot: number;
        try {
          slot = this.maps.slot(ino, index);
        } catch (e) {
          this.pages.release(page);
          if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
          why = "the metadata heap is full";
          break;
        }
        const seg = this.pages.segment(page);
        const base = this.pages.offset(page);
        if (inPage > 0) seg.fill(base, inPage);
        seg.write(base + inPage, src);
        if (inPage + chunk < PAGE_BYTES) {
          seg.fill(base + inPage + chunk, PAGE_BYTES - inPage - chunk);
        }
        this.mem.setU32(slot, page + 1);
        room--;
        added++;
      }
      done += chunk;
    }
    if (added > 0) {
      inodes.set(ino, I.BLOCKS, inodes.get(ino, I.BLOCKS) + added);
      this.quotas.charge(client, added);
    }
    if (done === 0) {
      if (room >= 0) this.quotas.tidy(client);
      throw new FsError(FsErrno.ENOSPC, `write of ${data.length} bytes at ${pos}: ${why}`);
    }
    if (pos + done > inodes.getF(ino, I.SIZE)) inodes.setF(ino, I.SIZE, pos + done);
    inodes.touch(ino, now);
    return done;
  }

  /** Sets the length (0…FILE_BYTES_MAX, checked by the caller), freeing pages past it. */
  truncate(ino: number, length: number, now: number): void {
    const inodes = this.inodes;
    const size = inodes.getF(ino, I.SIZE);
    if (length < size) {
      const keep = Math.ceil(length / PAGE_BYTES);
      this.dropFrom(ino, keep);
      const tail = length & (PAGE_BYTES - 1);
      if (tail !== 0) {
        const e = this.maps.lookup(ino, keep - 1);
        if (e !== 0) {
          const end = Math.min(PAGE_BYTES, size - (keep - 1) * PAGE_BYTES);
          this.pages.segment(e - 1).fill(this.pages.offset(e - 1) + tail, end - tail);
        }
      }
    }
    inodes.setF(ino, I.SIZE, length);
    inodes.touch(ino, now);
  }

  /** Frees every data page and the page map (the file is going away). */
  release(ino: number): void {
    this.dropFrom(ino, 0);
  }

  private dropFrom(ino: number, first: number): void {
    const freed = this.maps.freeFrom(ino, first);
    if (freed > 0) {
      this.inodes.set(ino, I.BLOCKS, this.inodes.get(ino, I.BLOCKS) - freed);
      this.quotas.charge(this.inodes.get(ino, I.CLIENT), -freed);
    }
  }
}
