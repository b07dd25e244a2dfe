import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { crc32 } from "../../hw/crc32.ts";
import { ImageFile } from "../../hw/nvm_file.ts";
import { newestCommittedSlot, slotHeaderEpoch } from "../../hw/nvm_slots.ts";
import {
  imageLayout,
  NvmImage,
  PowerFailure,
  ROOT_BYTES_MAX,
  WRITE_FAULTS,
  type WriteFault,
  type WriteKind,
} from "../../hw/nvm_image.ts";

// ---- helpers ----

/** Runs `f` with a fresh temp file path, removed afterwards. */
function withTemp(f: (path: string) => void): void {
  const path = Deno.makeTempFileSync({ prefix: "tardigrade-nvm-", suffix: ".img" });
  try {
    f(path);
  } finally {
    Deno.removeSync(path);
  }
}

/** Deterministic page contents, distinct for each (version, page). */
function pageData(version: number, page: number): Uint8Array {
  const d = new Uint8Array(PAGE_BYTES);
  let x = (version * 2654435761 + page * 40503 + 1) >>> 0;
  for (let i = 0; i < PAGE_BYTES; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    d[i] = x >>> 24;
  }
  return d;
}

const ZERO_PAGE = new Uint8Array(PAGE_BYTES);
const text = (s: string) => new TextEncoder().encode(s);

/** Asserts that `f` throws a TardigradeError with `code` (and message text, if given). */
function throwsCode(f: () => unknown, code: Err, includes?: string | RegExp): TardigradeError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TardigradeError, `expected ${Err[code]}, got ${String(caught)}`);
  assert.equal(caught.codeName, Err[code], caught.message);
  if (typeof includes === "string") assert.ok(caught.message.includes(includes), caught.message);
  if (includes instanceof RegExp) assert.match(caught.message, includes);
  return caught;
}

/** Asserts every page of `img` reads as `model` says (absent: zeros), page by page and in bulk. */
function assertContents(img: NvmImage, model: Map<number, Uint8Array>): void {
  const out = new Uint8Array(PAGE_BYTES);
  for (let p = 0; p < img.pageCount; p++) {
    const want = model.get(p);
    const written = img.readPage(p, out);
    assert.equal(written, want !== undefined, `page ${p}: written flag`);
    assert.deepEqual(out, want ?? ZERO_PAGE, `page ${p}: contents`);
  }
  const all = new Uint8Array(img.pageCount * PAGE_BYTES);
  img.readPages(0, img.pageCount, all);
  for (let p = 0; p < img.pageCount; p++) {
    const got = all.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
    assert.deepEqual(got, model.get(p) ?? ZERO_PAGE, `page ${p}: contents via readPages`);
  }
}

/** Writes `pages` (each with version `epoch`'s data) as checkpoint `epoch` and commits it. */
function checkpoint(
  img: NvmImage,
  model: Map<number, Uint8Array>,
  epoch: number,
  pages: number[],
): void {
  img.writePages(epoch, pages.map((page) => ({ page, data: pageData(epoch, page) })));
  img.commit(epoch, text(`root ${epoch}`));
  for (const page of pages) model.set(page, pageData(epoch, page));
}

function flipByte(path: string, offset: number): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    const b = new Uint8Array(1);
    f.seekSync(offset, Deno.SeekMode.Start);
    assert.equal(f.readSync(b), 1);
    b[0] ^= 0x5a;
    f.seekSync(offset, Deno.SeekMode.Start);
    f.writeSync(b);
  } finally {
    f.close();
  }
}

/** Asserts that opening `path` fails with `code` and leaves the file byte-identical. */
function openFailsUnchanged(path: string, code: Err, includes?: string | RegExp): TardigradeError {
  const before = Deno.readFileSync(path);
  const e = throwsCode(() => NvmImage.open(path), code, includes);
  assert.deepEqual(Deno.readFileSync(path), before, "a failed open must not modify the file");
  return e;
}

// ---- crc32 ----

Deno.test("crc32 gives the standard check value, chains across splits, and agrees for all sizes", () => {
  assert.equal(crc32(text("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const table = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const reference = (b: Uint8Array) => {
    let c = ~0;
    for (const x of b) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  };
  const data = pageData(9, 9);
  for (const n of [1, 12, 31, 32, 33, 100, 4096]) {
    const b = data.subarray(3, 3 + n);
    assert.equal(crc32(b), reference(b), `length ${n}`);
    for (const k of [0, 1, n >> 1, n]) {
      assert.equal(crc32(b.subarray(k), crc32(b.subarray(0, k))), crc32(b), `split ${n}/${k}`);
    }
  }
});

// ---- format, open, read, write ----

Deno.test("format then open round-trips pages and root; a page never written reads zeros", () => {
  withTemp((path) => {
    const img = NvmImage.format(path, 16 * PAGE_BYTES);
    assert.equal(img.pageCount, 16);
    assert.equal(img.committedEpoch, 0);
    assert.deepEqual(img.committedRoot, new Uint8Array(0));
    assert.equal(Deno.statSync(path).size, NvmImage.imageBytesFor(16));
    img.writePage(3, 1, pageData(1, 3));
    img.writePage(15, 1, pageData(1, 15));
    const root = pageData(7, 7).subarray(0, ROOT_BYTES_MAX);
    img.commit(1, root);
    const model = new Map([[3, pageData(1, 3)], [15, pageData(1, 15)]]);
    assertContents(img, model);
    img.close();

    const again = NvmImage.open(path);
    try {
      assert.equal(again.pageCount, 16);
      assert.equal(again.committedEpoch, 1);
      assert.deepEqual(again.committedRoot, root);
      assert.deepEqual(again.openReport, []);
      assertContents(again, model);
      const out = new Uint8Array(PAGE_BYTES).fill(0xee);
      assert.equal(again.readPage(0, out), false);
      assert.deepEqual(out, ZERO_PAGE);
    } finally {
      again.close();
    }
  });
});

Deno.test("a freshly formatted image opens at epoch 0 with an empty root and all-zero pages", () => {
  withTemp((path) => {
    NvmImage.format(path, 8 * PAGE_BYTES).close();
    const img = NvmImage.open(path);
    try {
      assert.equal(img.committedEpoch, 0);
      assert.equal(img.committedRoot.length, 0);
      assert.deepEqual(img.openReport, []);
      assertContents(img, new Map());
    } finally {
      img.close();
    }
  });
});

Deno.test("imageBytesFor follows the documented layout", () => {
  // 2 superblocks + header table (256 pages × 2 × 16 = 8192) + 256 × 2 data slots.
  assert.equal(NvmImage.imageBytesFor(256), 8192 + 8192 + 256 * 2 * 4096);
  // 1 page: the header table still takes one whole 4096-byte block.
  assert.equal(NvmImage.imageBytesFor(1), 8192 + 4096 + 2 * 4096);
  const l = imageLayout(262144);
  assert.equal(l.headerTableBytes, 8 * 1024 * 1024);
  assert.equal(l.dataOffset, 8192 + 8 * 1024 * 1024);
});

Deno.test("writes are invisible until commit, and each page reads its newest committed version", () => {
  withTemp((path) => {
    const img = NvmImage.format(path, 32 * PAGE_BYTES);
    const model = new Map<number, Uint8Array>();
    const plan = [[0, 1, 2, 3], [2, 3, 4], [0, 4, 31], [3], [1, 2, 3, 4, 5, 31]];
    for (let i = 0; i < plan.length; i++) {
      const epoch = i + 1;
      if (epoch % 2 === 0) {
        for (const p of plan[i]) img.writePage(p, epoch, pageData(epoch, p));
      } else {
        img.writePages(epoch, plan[i].map((page) => ({ page, data: pageData(epoch, page) })));
      }
      assertContents(img, model); // still the previous epoch
      img.commit(epoch, text(`root ${epoch}`));
      for (const p of plan[i]) model.set(p, pageData(epoch, p));
      assert.equal(img.committedEpoch, epoch);
      assertContents(img, model);
    }
    img.close();
    const again = NvmImage.open(path);
    try {
      assert.equal(again.committedEpoch, 5);
      assert.deepEqual(again.committedRoot, text("root 5"));
      assertContents(again, model);
    } finally {
      again.close();
    }
  });
});

Deno.test("a page written twice in one checkpoint keeps its last data", () => {
  withTemp((path) => {
    const img = NvmImage.format(path, 4 * PAGE_BYTES);
    try {
      img.writePage(1, 1, pageData(1, 1));
      img.commit(1, text("a"));
      img.writePage(1, 2, pageData(2, 1));
      img.writePages(2, [{ page: 1, data: pageData(3, 1) }, { page: 1, data: pageData(4, 1) }]);
      img.commit(2, text("b"));
      assertContents(img, new Map([[1, pageData(4, 1)]]));
    } finally {
      img.close();
    }
  });
});

Deno.test("writePages leaves the same bytes on disk as the equivalent writePage calls", () => {
  const plan = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 2, 4, 6, 8], [...Array(10).keys()], [1, 9]];
  const images: Uint8Array[] = [];
  for (const bulk of [false, true]) {
    withTemp((path) => {
      const img = NvmImage.format(path, 12 * PAGE_BYTES);
      plan.forEach((pages, i) => {
        const epoch = i + 1;
        const writes = pages.map((page) => ({ page, data: pageData(epoch, page) }));
        if (bulk) img.writePages(epoch, writes);
        else for (const w of writes) img.writePage(w.page, epoch, w.data);
        img.commit(epoch, text("r"));
      });
      img.close();
      images.push(Deno.readFileSync(path).subarray(8192)); // superblocks hold the format time
    });
  }
  assert.deepEqual(images[0], images[1]);
});

// ---- crash atomicity ----

/** The writes of a checkpoint with `dataRuns` data runs and `headerRuns` header runs, in order. */
function writesOf(dataRuns: number, headerRuns: number): Array<[WriteKind, number]> {
  const writes: Array<[WriteKind, number]> = [];
  for (let i = 0; i < dataRuns; i++) writes.push(["data", i]);
  for (let i = 0; i < headerRuns; i++) writes.push(["header", i]);
  writes.push(["superblock", 0]);
  return writes;
}

Deno.test("the fault hook sees every write of a checkpoint in order, coalesced into runs", () => {
  withTemp((path) => {
    const seen: Array<[WriteKind, number, number]> = [];
    const img = NvmImage.format(path, 8 * PAGE_BYTES, {
      faultHook: (write, index, epoch) => void seen.push([write, index, epoch]),
    });
    try {
      // Slots 0, 4, 10: three data runs; their headers lie within 256 bytes, one header run.
      img.writePages(1, [0, 5, 2].map((page) => ({ page, data: pageData(1, page) })));
      img.commit(1, text("x"));
      assert.deepEqual(seen, writesOf(3, 1).map(([w, i]) => [w, i, 1]));
      seen.length = 0;
      // Pages 3 and 4 are slots 6 and 8 (slot 0 each): not adjacent; the index restarts.
      img.writePages(2, [3, 4].map((page) => ({ page, data: pageData(2, page) })));
      img.commit(2, text("y"));
      assert.deepEqual(seen, writesOf(2, 1).map(([w, i]) => [w, i, 2]));
    } finally {
      img.close();
    }
  });
});

Deno.test("a power failure, torn write, lost write or I/O error at any write leaves exactly the old or the new checkpoint, and uncommitted slots never resurface", () => {
  withTemp((base) => {
    // Base image: epoch 1 and 2 fill both slots of some pages, one slot of others.
    const baseModel = new Map<number, Uint8Array>();
    const img = NvmImage.format(base, 16 * PAGE_BYTES);
    checkpoint(img, baseModel, 1, [0, 1, 2, 3, 4]);
    checkpoint(img, baseModel, 2, [0, 1, 5]);
    img.close();

    // Checkpoint 3: pages with two committed versions, one, and none; slots 0, 5, 11, 18, 24.
    const crashPages = [0, 2, 5, 9, 12];
    const newModel = new Map(baseModel);
    for (const p of crashPages) newModel.set(p, pageData(3, p));

    for (const [write, index] of writesOf(crashPages.length, 1)) {
      for (const fault of WRITE_FAULTS) {
        const what = `${write}-${fault} #${index}`;
        withTemp((path) => {
          Deno.copyFileSync(base, path);
          crashAt(path, write, index, fault, crashPages, what);
          const committed = write === "superblock" && fault === "after";
          afterCrash(path, committed ? newModel : baseModel, committed, what, write, fault);
        });
      }
    }
  });
});

/** Opens `path` and writes checkpoint 3 of `pages` with `fault` injected at write `index` of kind `write`. */
function crashAt(
  path: string,
  write: WriteKind,
  index: number,
  fault: WriteFault,
  pages: number[],
  what: string,
): void {
  const victim = NvmImage.open(path);
  victim.faultHook = (w, i) => w === write && i === index ? fault : undefined;
  let caught: unknown;
  try {
    victim.writePages(3, pages.map((page) => ({ page, data: pageData(3, page) })));
    victim.commit(3, text("root 3"));
  } catch (e) {
    caught = e;
  }
  if (fault === "lost" || fault === "eio") {
    assert.ok(caught instanceof TardigradeError, `${what}: ${String(caught)}`);
    assert.equal(caught.codeName, "E_IMAGE_IO", `${what}: ${caught.message}`);
    if (fault === "eio") assert.match(caught.message, /EIO: Input\/output error/);
    else assert.match(caught.message, /reads back different/);
  } else {
    assert.ok(caught instanceof PowerFailure, `${what}: ${String(caught)}`);
  }
  throwsCode(() => victim.readPage(0, new Uint8Array(PAGE_BYTES)), Err.E_NOT_READY);
  victim.close();
}

/** After crashAt: the image holds `model`, and two more checkpoints and a reopen keep it right. */
function afterCrash(
  path: string,
  expected: Map<number, Uint8Array>,
  committed: boolean,
  what: string,
  write: WriteKind,
  fault: WriteFault,
): void {
  const model = new Map(expected);
  const img = NvmImage.open(path);
  try {
    assert.equal(img.committedEpoch, committed ? 3 : 2, what);
    assert.deepEqual(img.committedRoot, text(committed ? "root 3" : "root 2"), what);
    assertContents(img, model);
    if (write === "superblock" && fault === "torn") {
      assert.ok(
        img.openReport.includes("superblock 1 has a bad checksum; using epoch 2 from superblock 0"),
        `${what}: ${img.openReport.join(" | ")}`,
      );
    }
    // Life goes on: the next checkpoint reuses epoch 3 when 3 never committed.
    // Pages 2 and 9 are not rewritten, so their uncommitted slots must stay dead.
    const next = img.committedEpoch + 1;
    checkpoint(img, model, next, [1, 5, 12, 15]);
    assertContents(img, model);
    checkpoint(img, model, next + 1, [0, 9]);
    assertContents(img, model);
  } finally {
    img.close();
  }
  const reopened = NvmImage.open(path);
  try {
    assert.equal(reopened.committedEpoch, committed ? 5 : 4, what);
    assertContents(reopened, model);
  } finally {
    reopened.close();
  }
}

Deno.test("slots of an uncommitted checkpoint are discarded on disk, not only in memory", () => {
  withTemp((path) => {
    const model = new Map<number, Uint8Array>();
    const img = NvmImage.format(path, 4 * PAGE_BYTES);
    checkpoint(img, model, 1, [0]);
    img.faultHook = (w) => w === "superblock" ? "before" : undefined;
    assert.throws(() => {
      img.writePage(1, 2, pageData(2, 1));
      img.commit(2, text("never"));
    }, PowerFailure);
    img.close();

    const headerOffset = (page: number, slot: number) => 8192 + (2 * page + slot) * 16;
    const stale = Deno.readFileSync(path).subarray(headerOffset(1, 0), headerOffset(1, 0) + 16);
    assert.notDeepEqual(stale, new Uint8Array(16), "the crashed write left a header");
    const first = NvmImage.open(path);
    first.loadSlotHeaders(); // open leaves them to first use or the next commit
    assert.equal(first.openReport.length, 1);
    assert.match(first.openReport[0], /discarded 1 page slot/);
    first.close();
    const after = Deno.readFileSync(path).subarray(headerOffset(1, 0), headerOffset(1, 0) + 16);
    assert.deepEqual(after, new Uint8Array(16));
    const second = NvmImage.open(path);
    assert.deepEqual(second.openReport, []);
    assertContents(second, model);
    second.close();
  });
});

// ---- corruption and foreign files ----

/** Formats `path` and commits epochs 1..3; returns the model of epoch 2 and epoch 3. */
function threeEpochs(path: string): [Map<number, Uint8Array>, Map<number, Uint8Array>] {
  const model = new Map<number, Uint8Array>();
  const img = NvmImage.format(path, 16 * PAGE_BYTES);
  checkpoint(img, model, 1, [0, 1, 2]);
  checkpoint(img, model, 2, [1, 3]);
  const at2 = new Map(model);
  checkpoint(img, model, 3, [1, 2, 7]);
  img.close();
  return [at2, model];
}

Deno.test("a damaged newest superblock falls back to the older one and says so in openReport", () => {
  withTemp((path) => {
    const [at2] = threeEpochs(path);
    flipByte(path, 4096 + 40); // epoch 3 is in superblock 1; byte 40 is in its root
    const img = NvmImage.open(path);
    try {
      assert.equal(img.committedEpoch, 2);
      assert.deepEqual(img.committedRoot, text("root 2"));
      assert.ok(
        img.openReport.includes("superblock 1 has a bad checksum; using epoch 2 from superblock 0"),
        img.openReport.join(" | "),
      );
      assertContents(img, at2);
      // The next checkpoint is epoch 3 again; epoch 3's old page slots must not show through.
      const model = new Map(at2);
      checkpoint(img, model, 3, [5]);
      assertContents(img, model);
    } finally {
      img.close();
    }
  });
});

Deno.test("a damaged older superblock is reported but the newest is used", () => {
  withTemp((path) => {
    const [, at3] = threeEpochs(path);
    flipByte(path, 100); // superblock 0 holds epoch 2
    const img = NvmImage.open(path);
    try {
      assert.equal(img.committedEpoch, 3);
      assert.deepEqual(img.openReport, [
        "superblock 0 has a bad checksum; using epoch 3 from superblock 1",
      ]);
      assertContents(img, at3);
    } finally {
      img.close();
    }
  });
});

Deno.test("both superblocks damaged: open fails with E_IMAGE_CORRUPT and leaves the file unchanged", () => {
  withTemp((path) => {
    threeEpochs(path);
    flipByte(path, 20);
    flipByte(path, 4096 + 20);
    openFailsUnchanged(path, Err.E_IMAGE_CORRUPT, "--fresh");
  });
});

Deno.test("a truncated image fails with E_IMAGE_TRUNCATED and is left unchanged", () => {
  withTemp((path) => {
    threeEpochs(path);
    const full = Deno.statSync(path).size;
    for (const size of [full - 1, full >> 1, 5000, 100]) {
      Deno.truncateSync(path, size);
      const e = openFailsUnchanged(path, Err.E_IMAGE_TRUNCATED, "--fresh");
      assert.ok(e.message.includes(`${size} bytes`), e.message);
    }
  });
});

Deno.test("random bytes, a text file and an empty file are not Tardigrade images", () => {
  withTemp((path) => {
    const random = new Uint8Array(5 * PAGE_BYTES);
    crypto.getRandomValues(random);
    Deno.writeFileSync(path, random);
    openFailsUnchanged(path, Err.E_IMAGE_NOT_TARDIGRADE, "--fresh");
    Deno.writeTextFileSync(path, "# Notes\nThis is not a disk image.\n".repeat(400));
    openFailsUnchanged(path, Err.E_IMAGE_NOT_TARDIGRADE, "TRDGRADE");
    Deno.writeTextFileSync(path, "hello\n");
    openFailsUnchanged(path, Err.E_IMAGE_NOT_TARDIGRADE);
    Deno.writeFileSync(path, new Uint8Array(0));
    openFailsUnchanged(path, Err.E_IMAGE_NOT_TARDIGRADE);
  });
});

Deno.test("an image of format version 1 (or 3) fails with E_IMAGE_VERSION and is left unchanged", () => {
  withTemp((path) => {
    for (const version of [1, 3]) {
      NvmImage.format(path, 4 * PAGE_BYTES).close();
      const bytes = Deno.readFileSync(path);
      const v = new DataView(bytes.buffer);
      v.setUint32(8, version, true);
      v.setUint32(4092, crc32(bytes.subarray(0, 4092)), true);
      Deno.writeFileSync(path, bytes);
      openFailsUnchanged(path, Err.E_IMAGE_VERSION, `version ${version}`);
    }
  });
});

Deno.test("a flipped byte in committed page data makes reading that page fail with E_IMAGE_CORRUPT naming it", () => {
  withTemp((path) => {
    const [, at3] = threeEpochs(path);
    const { dataOffset } = imageLayout(16);
    // Page 7 was written once (epoch 3), into slot 0.
    flipByte(path, dataOffset + (2 * 7 + 0) * PAGE_BYTES + 123);
    const img = NvmImage.open(path);
    try {
      const e = throwsCode(
        () => img.readPage(7, new Uint8Array(PAGE_BYTES)),
        Err.E_IMAGE_CORRUPT,
        "page 7 slot 0 (epoch 3)",
      );
      assert.equal(e.detail.page, 7);
      throwsCode(
        () => img.readPages(0, 16, new Uint8Array(16 * PAGE_BYTES)),
        Err.E_IMAGE_CORRUPT,
        "page 7",
      );
      const out = new Uint8Array(PAGE_BYTES); // the other pages are fine
      for (const p of [0, 1, 2, 3]) {
        img.readPage(p, out);
        assert.deepEqual(out, at3.get(p));
      }
    } finally {
      img.close();
    }
  });
});

/** The 16 bytes of the header of `slot` of `page` in the image at `path` (16 pages). */
function headerBytes(path: string, page: number, slot: number): Uint8Array {
  const at = 8192 + (2 * page + slot) * 16;
  return Deno.readFileSync(path).slice(at, at + 16);
}

/** Overwrites the header of `slot` of `page` in the image at `path` with `bytes`. */
function putHeader(path: string, page: number, slot: number, bytes: Uint8Array): void {
  const f = Deno.openSync(path, { write: true });
  try {
    f.seekSync(8192 + (2 * page + slot) * 16, Deno.SeekMode.Start);
    f.writeSync(bytes);
  } finally {
    f.close();
  }
}

Deno.test("a committed slot header with a bad checksum is E_IMAGE_CORRUPT, not a silent step back to the older version", () => {
  withTemp((path) => {
    threeEpochs(path);
    // Page 2: epoch 1 in slot 0, epoch 3 in slot 1. Damage slot 1's header.
    flipByte(path, 8192 + (2 * 2 + 1) * 16 + 9);
    const img = NvmImage.open(path);
    throwsCode(
      () => img.readPage(2, new Uint8Array(PAGE_BYTES)),
      Err.E_IMAGE_CORRUPT,
      "checkpoint 3",
    );
    throwsCode(() => img.readPage(0, new Uint8Array(PAGE_BYTES)), Err.E_NOT_READY);
    img.close();
  });
});

Deno.test("a lost header write of a committed checkpoint (the older header left in place) is E_IMAGE_CORRUPT", () => {
  withTemp((path) => {
    const model = new Map<number, Uint8Array>();
    const img = NvmImage.format(path, 16 * PAGE_BYTES);
    checkpoint(img, model, 1, [0, 4]);
    checkpoint(img, model, 2, [4]);
    const old = headerBytes(path, 4, 0); // slot 0 of page 4: epoch 1
    checkpoint(img, model, 3, [4]); // back into slot 0
    img.close();
    // The device dropped epoch 3's header of page 4: epoch 1's is still there, valid.
    putHeader(path, 4, 0, old);
    const reopened = NvmImage.open(path);
    const e = throwsCode(() => reopened.loadSlotHeaders(), Err.E_IMAGE_CORRUPT, "checkpoint 3");
    assert.match(e.message, /lost or went elsewhere/);
    reopened.close();
  });
});

Deno.test("a slot header written at another slot's place is not taken for that slot's", () => {
  withTemp((path) => {
    const model = new Map<number, Uint8Array>();
    const img = NvmImage.format(path, 16 * PAGE_BYTES);
    checkpoint(img, model, 1, [3, 6]);
    checkpoint(img, model, 2, [3]);
    img.close();
    // A copy of page 3 slot 1's header (epoch 2) lands on page 6 slot 1, newer than page 6's
    // own epoch 1: its crc names slot 7, not 13, so it is ignored and page 6 reads epoch 1.
    putHeader(path, 6, 1, headerBytes(path, 3, 1));
    const reopened = NvmImage.open(path);
    try {
      reopened.loadSlotHeaders();
      assertContents(reopened, model);
    } finally {
      reopened.close();
    }
    // Page 3's header in page 6's place, page 6's own lost: detected, not read as page 3's.
    putHeader(path, 6, 0, headerBytes(path, 3, 0));
    const moved = NvmImage.open(path);
    throwsCode(() => moved.loadSlotHeaders(), Err.E_IMAGE_CORRUPT, "checkpoint 2");
    moved.close();
  });
});

Deno.test("a second open of an image in use is E_IMAGE_BUSY, and a format cannot truncate it", () => {
  withTemp((path) => {
    const model = new Map<number, Uint8Array>();
    const first = NvmImage.format(path, 4 * PAGE_BYTES);
    checkpoint(first, model, 1, [1]);
    const before = Deno.readFileSync(path);
    throwsCode(() => NvmImage.open(path), Err.E_IMAGE_BUSY, "--image");
    throwsCode(() => NvmImage.format(path, 4 * PAGE_BYTES), Err.E_IMAGE_BUSY, "in use");
    assert.deepEqual(Deno.readFileSync(path), before, "the refused format changed nothing");
    checkpoint(first, model, 2, [2]); // the first is unharmed
    first.close();
    const again = NvmImage.open(path); // the lock went with the close
    try {
      assertContents(again, model);
    } finally {
      again.close();
    }
  });
});

// ---- bad arguments ----

Deno.test("bad page numbers, buffer lengths, epochs and sizes fail with E_BAD_ARGUMENT", () => {
  withTemp((path) => {
    throwsCode(() => NvmImage.format(path, 4095), Err.E_BAD_ARGUMENT);
    throwsCode(() => NvmImage.format(path, 0), Err.E_BAD_ARGUMENT);
    throwsCode(() => NvmImage.format(path, 4096 * 1.5), Err.E_BAD_ARGUMENT);
    throwsCode(() => NvmImage.imageBytesFor(0), Err.E_BAD_ARGUMENT);
    const img = NvmImage.format(path, 8 * PAGE_BYTES);
    try {
      const page = new Uint8Array(PAGE_BYTES);
      for (const p of [-1, 8, 1.5, NaN]) {
        throwsCode(() => img.writePage(p, 1, page), Err.E_BAD_ARGUMENT, `page ${p}`);
        throwsCode(() => img.readPage(p, page), Err.E_BAD_ARGUMENT);
      }
      throwsCode(() => img.writePage(0, 1, new Uint8Array(4095)), Err.E_BAD_ARGUMENT, "4096");
      throwsCode(() => img.writePage(0, 1, new Uint8Array(4097)), Err.E_BAD_ARGUMENT);
      throwsCode(() => img.readPage(0, new Uint8Array(100)), Err.E_BAD_ARGUMENT);
      throwsCode(() => img.readPages(6, 3, new Uint8Array(3 * PAGE_BYTES)), Err.E_BAD_ARGUMENT);
      throwsCode(() => img.readPages(0, 2, new Uint8Array(PAGE_BYTES)), Err.E_BAD_ARGUMENT);
      for (const epoch of [0, 2, 1.5]) {
        throwsCode(() => img.writePage(0, epoch, page), Err.E_BAD_ARGUMENT, "epoch");
        throwsCode(() => img.commit(epoch, new Uint8Array(0)), Err.E_BAD_ARGUMENT);
      }
      // writePages checks everything before writing anything.
      throwsCode(
        () => img.writePages(1, [{ page: 0, data: pageData(1, 0) }, { page: 9, data: page }]),
        Err.E_BAD_ARGUMENT,
      );
      throwsCode(() => img.commit(1, new Uint8Array(ROOT_BYTES_MAX + 1)), Err.E_BAD_ARGUMENT);
      img.commit(1, new Uint8Array(0));
      assertContents(img, new Map());
    } finally {
      img.close();
    }
    throwsCode(() => img.readPage(0, new Uint8Array(PAGE_BYTES)), Err.E_NOT_READY, "closed");
  });
});

Deno.test("a crashed checkpoint's slot in a part of the image never read stays dead after the next commit", () => {
  withTemp((path) => {
    // 10,000 pages: slot headers in 5 chunks; page 9000's are in the last one.
    const model = new Map<number, Uint8Array>();
    const img = NvmImage.format(path, 10_000 * PAGE_BYTES);
    checkpoint(img, model, 1, [0, 9000]);
    img.faultHook = (w) => w === "superblock" ? "before" : undefined;
    assert.throws(() => {
      img.writePages(2, [{ page: 9000, data: pageData(2, 9000) }]);
      img.commit(2, text("never"));
    }, PowerFailure);
    img.close();

    // Reopen and commit epoch 2 again without touching page 9000: the commit itself must
    // read and scrub the crashed slot, or it would read as committed epoch 2 afterwards.
    const again = NvmImage.open(path);
    checkpoint(again, model, 2, [1]);
    assert.match(again.openReport.join(" | "), /discarded 1 page slot/);
    again.close();
    const last = NvmImage.open(path);
    try {
      const out = new Uint8Array(PAGE_BYTES);
      assert.ok(last.readPage(9000, out));
      assert.deepEqual(out, pageData(1, 9000), "page 9000 is still the committed version");
      assert.ok(last.readPage(1, out));
      assert.deepEqual(out, pageData(2, 1));
    } finally {
      last.close();
    }
  });
});

Deno.test("a read-only open takes a shared lock: busy while a machine holds it, and holds it off", () => {
  withTemp((path) => {
    const img = NvmImage.format(path, 4 * PAGE_BYTES);
    throwsCode(() => ImageFile.openReadOnly(path), Err.E_IMAGE_BUSY, "in use");
    img.close();
    const reader = ImageFile.openReadOnly(path);
    const second = ImageFile.openReadOnly(path); // readers share
    throwsCode(() => NvmImage.open(path), Err.E_IMAGE_BUSY, "in use");
    assert.throws(() => reader.write(0, new Uint8Array(1)), "the read-only file refuses a write");
    reader.close();
    second.close();
    NvmImage.open(path).close();
  });
});

Deno.test("slotHeaderEpoch and newestCommittedSlot: the header check and choice SlotTable applies", () => {
  withTemp((path) => {
    const model = new Map<number, Uint8Array>();
    const img = NvmImage.format(path, 4 * PAGE_BYTES);
    checkpoint(img, model, 1, [0]);
    checkpoint(img, model, 2, [0]);
    img.close();
    const headers = Deno.readFileSync(path).slice(8192, 8192 + 64);
    const view = new DataView(headers.buffer);
    assert.equal(slotHeaderEpoch(headers, view, 0), 1);
    assert.equal(slotHeaderEpoch(headers, view, 1), 2);
    assert.equal(slotHeaderEpoch(headers, view, 2), -1, "a never-written header fails its crc");
    headers[8] ^= 1; // slot 0's dataCrc
    assert.equal(slotHeaderEpoch(headers, view, 0), -1, "a damaged header fails its crc");
    assert.equal(newestCommittedSlot(1, 2, 2), 1);
    assert.equal(newestCommittedSlot(1, 2, 1), 0, "an epoch past the committed one is not read");
    assert.equal(newestCommittedSlot(3, 2, 3), 0);
    assert.equal(newestCommittedSlot(0, 0, 3), -1);
    assert.equal(newestCommittedSlot(4, 5, 3), -1);
  });
});
