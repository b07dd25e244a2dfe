/**
 * `deno task inspect` (tools/inspect.ts): on an image a machine booted with
 * the kv store and the shell, filled from outside (keys over RESP, files
 * through the shell) and stopped cleanly, the report shows the epoch the
 * machine halted at, the cap groups init made, the files and the key
 * counts; damage (a superblock, both, a committed page's data, a committed
 * slot header, a cut file) is exit 1 naming the place; a torn checkpoint
 * is leftovers and exit 0; a running machine's image is exit 3; a file
 * that is no image is exit 4.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exchange, type FsToolIo, toRequest } from "../../tools/fs.ts";
import { InspectExit, runInspect } from "../../tools/inspect.ts";
import { crc32 } from "../../hw/crc32.ts";
import { imageLayout } from "../../hw/nvm_layout.ts";
import { freePort } from "../../tools/echo_client.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { SwitchProcess } from "../../tools/net_process.ts";
import { RespConn } from "../../tools/resp_client.ts";
import { imageDir, removeImage, tempImage } from "../../tools/temp_image.ts";

const REPO = new URL("../../", import.meta.url).pathname;

/** The image the tests share, what was put in it, and what the machine said. */
interface Booted {
  image: string;
  /** The epoch of the machine's final checkpoint (its halt line). */
  haltEpoch: number;
  /** What the inspector answered while the machine ran. */
  busyCode: number;
  busyErr: string;
}

const FILES: Record<string, string> = {
  "/docs/readme.txt": "hello inspector",
  "/docs/sub/deep.txt": "deeper",
  "/top.txt": "x",
};

let booted: Promise<Booted> | undefined;

/** Boots once: kv and shell, keys and files put from outside, inspect while running, stop cleanly. */
function boot(): Promise<Booted> {
  booted ??= (async () => {
    const image = tempImage("inspect");
    const sw = await SwitchProcess.start(`${image}.link`);
    const kvPort = freePort();
    const shellPort = freePort();
    const m = MachineProcess.start(image, [
      "--fresh",
      "--apps",
      `kv?port=${kvPort},shell?port=${shellPort}`,
      "--net-link",
      sw.linkPath,
    ]);
    try {
      await m.ready();
      await sw.waitFor((l) => l.t === "listening" && l.port === kvPort);
      await sw.waitFor((l) => l.t === "listening" && l.port === shellPort);
      const kv = await RespConn.connect(kvPort);
      for (const k of ["a", "b", "c"]) await kv.call("SET", k, "1");
      await kv.call("SELECT", "3");
      await kv.call("SET", "d", "1");
      kv.close();
      const lines = [
        "mkdir -p /docs/sub",
        ...Object.entries(FILES).map(([p, t]) => `write ${p} ${t}`),
      ];
      const io: FsToolIo = {
        out: () => {},
        err: (t) => assert.fail(t),
        lines: async function* () {},
      };
      const failed = await exchange(
        shellPort,
        (async function* () {
          for (const l of lines) yield { req: toRequest(l.split(" ")), where: l };
        })(),
        io,
      );
      assert.equal(failed, 0);
      const busy = await inspect([image]);
      await m.shutdown();
      const halt = m.lines.find((l) => l.t === "halt");
      assert.ok(halt?.t === "halt", "the machine halted cleanly");
      return { image, haltEpoch: halt.epoch, busyCode: busy.code, busyErr: busy.err };
    } finally {
      await m.kill();
      await sw.stop();
    }
  })();
  return booted;
}

/** The inspector in this process, its output captured. */
function inspect(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = runInspect(args, { out: (t) => out += t, err: (t) => err += t });
  return Promise.resolve({ code, out, err });
}

/** A copy of the shared image beside it, for a test to damage. */
async function copyOf(label: string): Promise<string> {
  const { image } = await boot();
  const copy = `${imageDir(image)}/${label}.img`;
  Deno.copyFileSync(image, copy);
  return copy;
}

/** Flips the byte at `offset` of `path`. */
function flip(path: string, offset: number): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    const b = new Uint8Array(1);
    f.seekSync(offset, Deno.SeekMode.Start);
    f.readSync(b);
    b[0] ^= 0x5a;
    f.seekSync(offset, Deno.SeekMode.Start);
    f.writeSync(b);
  } finally {
    f.close();
  }
}

/** The slot of `page` that holds its committed version, read from the raw header table. */
function committedSlot(path: string, epoch: number, page = 0): number {
  const f = Deno.openSync(path);
  try {
    const h = new Uint8Array(32);
    f.seekSync(8192 + page * 32, Deno.SeekMode.Start);
    f.readSync(h);
    const v = new DataView(h.buffer);
    const e = [v.getUint32(0, true), v.getUint32(16, true)].map((x) => (x <= epoch ? x : 0));
    return e[1] > e[0] ? 1 : 0;
  } finally {
    f.close();
  }
}

Deno.test("inspect --json reports the halt epoch, init's groups, the files and the keys put", async () => {
  const b = await boot();
  const r = await inspect([b.image, "--json"]);
  assert.equal(r.code, InspectExit.SOUND, r.err);
  const j = JSON.parse(r.out);
  for (
    const key of ["format", "verdict", "superblocks", "committed", "slots", "kernel", "memory"]
  ) {
    assert.ok(key in j, `key ${key}`);
  }
  assert.equal(j.verdict, "sound");
  assert.equal(j.committed.epoch, b.haltEpoch);
  const groups = j.kernel.groups.map((g: { name: string }) => g.name);
  for (const g of ["init", "memory", "fs", "net", "kv", "shell"]) assert.ok(groups.includes(g), g);
  assert.equal(j.slots.livePages, j.superblocks[j.committed.superblock].liveSlots);
  const paths = j.fs.entries.map((e: { path: string }) => e.path).sort();
  assert.deepEqual(paths, [
    "/docs",
    "/docs/readme.txt",
    "/docs/sub",
    "/docs/sub/deep.txt",
    "/top.txt",
  ]);
  for (const [p, text] of Object.entries(FILES)) {
    const e = j.fs.entries.find((x: { path: string }) => x.path === p);
    assert.equal(e.size, text.length + 1, p); // the shell's write ends the text with a newline
  }
  assert.deepEqual(j.kv.keys, { "0": 3, "3": 1 });
  assert.equal(j.kv.totalKeys, 4);
  assert.equal(j.memory.allocator.heap.check, "ok");
  assert.equal(j.memory.allocator.frames.check, "ok");
});

Deno.test("inspect text report: sections, the cap tree drawn, the files, exit 0", async () => {
  const b = await boot();
  const r = await inspect([b.image]);
  assert.equal(r.code, InspectExit.SOUND, r.err);
  assert.match(r.out, new RegExp(`sound, committed epoch ${b.haltEpoch}`));
  for (const s of ["superblocks", "slots", "kernel objects", "capability tree", "memory objects"]) {
    assert.match(r.out, new RegExp(`^== ${s} ==$`, "m"));
  }
  assert.match(r.out, /└─ cap #\d+ /);
  assert.match(r.out, /readme\.txt\s+file\s+16 bytes/);
  assert.match(r.out, /4 keys \(db0 3, db3 1\)/);
});

Deno.test("inspect --depth 1 --limit 2 bounds the file listing and says it did", async () => {
  const b = await boot();
  const j = JSON.parse((await inspect([b.image, "--json", "--depth", "1"])).out);
  assert.deepEqual(j.fs.entries.map((e: { path: string }) => e.path).sort(), ["/docs", "/top.txt"]);
  assert.equal(j.fs.truncated, true);
  assert.equal(j.fs.files, 3);
  const t = await inspect([b.image, "--limit", "2"]);
  assert.match(t.out, /… \d+ more \(raise --limit/);
});

Deno.test("deno task inspect runs with read permission only, and writes nothing", async () => {
  const b = await boot();
  const before = await sha256(b.image);
  const task = JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`)).tasks.inspect as string;
  assert.match(task, /^deno run --allow-read tools\/inspect\.ts$/);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...task.split(" ").slice(1), b.image],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(await sha256(b.image), before);
});

Deno.test("inspect while a machine runs on the image: exit 3, E_IMAGE_BUSY", async () => {
  const b = await boot();
  assert.equal(b.busyCode, InspectExit.BUSY);
  assert.match(b.busyErr, /in use by another machine/);
});

Deno.test("inspect: a flipped byte in superblock 0 is exit 1 naming it; the rest is still read", async () => {
  const img = await copyOf("sb0");
  flip(img, 100);
  const r = await inspect([img]);
  assert.equal(r.code, InspectExit.DAMAGED);
  assert.match(r.err, /superblock 0: has a bad checksum/);
  const j = JSON.parse((await inspect([img, "--json"])).out);
  assert.equal(j.kv.totalKeys, 4, "the other superblock's state is still reported");
});

Deno.test("inspect: both superblocks damaged is exit 1 naming both", async () => {
  const img = await copyOf("sb01");
  flip(img, 100);
  flip(img, 4096 + 100);
  const r = await inspect([img, "--json"]);
  assert.equal(r.code, InspectExit.DAMAGED);
  const j = JSON.parse(r.out);
  assert.equal(j.committed, null);
  assert.deepEqual(j.problems.map((p: { where: string }) => p.where), [
    "superblock 0",
    "superblock 1",
  ]);
});

Deno.test("inspect: a flipped byte in a committed page's data is exit 1 naming page and slot", async () => {
  const b = await boot();
  const img = await copyOf("data");
  const s = committedSlot(img, b.haltEpoch);
  const pageCount = new DataView(Deno.readFileSync(img).buffer).getUint32(12, true);
  flip(img, imageLayout(pageCount).dataOffset + s * 4096 + 10);
  const r = await inspect([img]);
  assert.equal(r.code, InspectExit.DAMAGED);
  assert.match(r.err, new RegExp(`page 0 slot ${s}: data crc wrong`));
});

Deno.test("inspect: a damaged page of the kv store's memory object names the page and the store", async () => {
  const b = await boot();
  const j = JSON.parse((await inspect([b.image, "--json"])).out);
  const heap = j.memory.pmos.find((p: { id: number }) => p.id === j.kernel.kept["kv/heap"]);
  const img = await copyOf("kvpage");
  const s = committedSlot(img, b.haltEpoch, heap.nvmBase);
  flip(img, imageLayout(j.committed.pageCount).dataOffset + (2 * heap.nvmBase + s) * 4096 + 5);
  const r = JSON.parse((await inspect([img, "--json"])).out);
  assert.equal(r.verdict, "damaged");
  const where = `page ${heap.nvmBase} slot ${s}`;
  assert.ok(r.problems.some((p: { where: string }) => p.where === where), where);
  assert.ok(r.problems.some((p: { what: string }) => /reading the kv store/.test(p.what)));
  assert.equal(r.kv, null);
  assert.equal(r.fs.files, 3, "the other sections are still read");
});

Deno.test("inspect: a flipped byte in a committed slot header is exit 1, the live check names it", async () => {
  const b = await boot();
  const img = await copyOf("header");
  const s = committedSlot(img, b.haltEpoch);
  flip(img, 8192 + s * 16 + 9); // its dataCrc
  const r = await inspect([img]);
  assert.equal(r.code, InspectExit.DAMAGED);
  assert.match(r.err, new RegExp(`live check mismatch.*bad headers at page 0 slot ${s}`));
});

Deno.test("inspect: a cut file is exit 1 saying so; a tiny one names its superblock", async () => {
  const img = await copyOf("cut");
  const size = Deno.statSync(img).size;
  Deno.truncateSync(img, Math.floor(size / 2));
  const r = await inspect([img]);
  assert.equal(r.code, InspectExit.DAMAGED);
  assert.match(r.err, /file: is \d+ bytes, but its superblock .* needs \d+: it was cut short/);
  Deno.truncateSync(img, 100);
  const t = await inspect([img]);
  assert.equal(t.code, InspectExit.DAMAGED);
  assert.match(t.err, /superblock 0: is cut short by the end of the file/);
});

Deno.test("inspect: a torn checkpoint is reported as leftovers, exit 0", async () => {
  const img = await copyOf("torn");
  const sw = await SwitchProcess.start(`${img}.link`);
  const m = MachineProcess.start(img, ["--power-fail", "header-torn:0", "--net-link", sw.linkPath]);
  const status = await m.exited;
  await sw.stop();
  assert.equal(status.code, 137, `the power failed (${m.describeErrors()})`);
  const r = await inspect([img, "--json"]);
  assert.equal(r.code, InspectExit.SOUND, r.err);
  const j = JSON.parse(r.out);
  assert.ok(j.slots.uncommitted > 0, "slots of the torn checkpoint");
  assert.match(j.leftovers.join("\n"), /by a checkpoint that never committed/);
});

Deno.test("inspect: not an image, or no file, is exit 4; a bad flag is exit 2", async () => {
  const b = await boot();
  const junk = `${imageDir(b.image)}/junk.img`;
  Deno.writeFileSync(junk, new Uint8Array(20000).fill(7));
  const r = await inspect([junk, "--json"]);
  assert.equal(r.code, InspectExit.UNREADABLE);
  assert.equal(JSON.parse(r.out).error.name, "E_IMAGE_NOT_TARDIGRADE");
  assert.equal((await inspect([`${junk}.missing`])).code, InspectExit.UNREADABLE);
  assert.equal((await inspect([b.image, "--no-such-flag"])).code, InspectExit.USAGE);
  assert.equal((await inspect([b.image, "--depth", "x"])).code, InspectExit.USAGE);
  const h = await inspect(["--help"]);
  assert.equal(h.code, 0);
  for (const f of ["--json", "--depth", "--limit", "--help"]) assert.match(h.out, new RegExp(f));
});

Deno.test("inspect: an image of another format version is exit 4, E_IMAGE_VERSION", async () => {
  const img = await copyOf("version");
  const f = Deno.openSync(img, { read: true, write: true });
  try {
    for (const at of [0, 4096]) {
      const sb = new Uint8Array(4096);
      f.seekSync(at, Deno.SeekMode.Start);
      f.readSync(sb);
      const v = new DataView(sb.buffer);
      v.setUint32(8, 3, true); // format version 3
      v.setUint32(4092, crc32(sb.subarray(0, 4092)), true);
      f.seekSync(at, Deno.SeekMode.Start);
      f.writeSync(sb);
    }
  } finally {
    f.close();
  }
  const r = await inspect([img, "--json"]);
  assert.equal(r.code, InspectExit.UNREADABLE);
  assert.equal(JSON.parse(r.out).error.name, "E_IMAGE_VERSION");
});

Deno.test("inspect tests: remove the shared image", async () => {
  removeImage((await boot()).image);
});

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(path));
  return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
}
