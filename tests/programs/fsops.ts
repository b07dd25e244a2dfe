/**
 * Test program: the FS server over IPC from inside a machine, for
 * tests/fs/server_test.ts. Its work runs in timer steps (after `main`, so
 * `sync` can wait for a checkpoint). Modes (`?mode=`):
 *
 * - `ops` (default): every operation, a 1 MiB write and read back through
 *   the bulk buffer, another connection's descriptors, a connection closed
 *   for good, bad input while a second client is served, `sync` against
 *   the commit counter; prints `fsops {json}` (each outcome a value or an
 *   error name) and `fsops-figures {json}`.
 * - `keep`: at its first start writes "kept across faults" and 2000 dots
 *   to /keep/file through a descriptor it keeps in its PMO and prints
 *   `fsops kept FD`; then on every tick reads it back through that
 *   descriptor (through the bulk buffer) and prints `fsops alive N TEXT
 *   LENGTH` (N counts successes, TEXT the first 18 bytes), or
 *   `fsops keep-error NAME` when the read fails (E_PEER_DIED: the server
 *   died under it; it tries again on the next tick).
 * - `quota`: writes 4 KiB blocks to /quota-BADGE until ENOSPC, prints
 *   `fsops quota BADGE N ERR` (blocks written, the error), creates
 *   /quota-full-BADGE; with `wait=1` it first waits for another client's
 *   /quota-full-* so it writes while that one is over its quota.
 *
 * @module
 */

import { encodeFsRequest, FS_INDIRECT, FsLabel } from "../../servers/fs/protocol.ts";
import { OpenFlag, Whence } from "../../servers/fs/vfs.ts";
import { Label, type ServerStatus } from "../../servers/protocol.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { parseJson, unwrap } from "../../servers/runtime/ipc.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { type Context, runProgram } from "../../servers/runtime/program.ts";
import { attempt, type Outcome } from "./_outcome.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const RW_CREATE = OpenFlag.RDWR | OpenFlag.CREAT;
/** What `keep` writes first in its file. */
const KEPT = "kept across faults";

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 12)) & 0xff;
  return b;
}

/** Every operation once, with its outcome. */
async function everyOperation(fs: FsClient, r: Record<string, Outcome>): Promise<void> {
  r.mkdir = await attempt(() => fs.mkdir("/d"));
  const fd = await fs.open("/d/f", RW_CREATE, 0o644);
  r.open = { ok: fd };
  r.write = await attempt(() => fs.write(fd, enc.encode("hello")));
  r.seek = await attempt(() => fs.seek(fd, 0, Whence.SET));
  r.read = await attempt(async () => dec.decode(await fs.read(fd, 5)));
  r.pwrite = await attempt(() => fs.pwrite(fd, 5, enc.encode(" world")));
  r.pread = await attempt(async () => dec.decode(await fs.pread(fd, 0, 64)));
  r.fstat = await attempt(async () => (await fs.fstat(fd)).size);
  r.ftruncate = await attempt(async () => {
    await fs.ftruncate(fd, 5);
    return (await fs.stat("/d/f")).size;
  });
  r.truncate = await attempt(async () => {
    await fs.truncate("/d/f", 3);
    return (await fs.fstat(fd)).size;
  });
  r.fsync = await attempt(() => fs.fsync(fd));
  r.link = await attempt(async () => {
    await fs.link("/d/f", "/d/g");
    return (await fs.stat("/d/f")).nlink;
  });
  r.symlink = await attempt(() => fs.symlink("/d/f", "/d/s"));
  r.readlink = await attempt(() => fs.readlink("/d/s"));
  r.lstat = await attempt(async () => (await fs.lstat("/d/s")).kind);
  r.statFollows = await attempt(async () => (await fs.stat("/d/s")).kind);
  r.readdir = await attempt(async () => (await fs.readdir("/d")).map((e) => e.name).sort());
  r.chmod = await attempt(async () => {
    await fs.chmod("/d/f", 0o600);
    return (await fs.stat("/d/f")).mode;
  });
  r.utimes = await attempt(async () => {
    await fs.utimes("/d/f", 1000, 2000);
    const s = await fs.stat("/d/f");
    return [s.atimeMs, s.mtimeMs];
  });
  r.rename = await attempt(async () => {
    await fs.rename("/d/g", "/h");
    return (await fs.stat("/h")).ino === (await fs.stat("/d/f")).ino;
  });
  r.unlink = await attempt(() => fs.unlink("/h"));
  r.unlinkAgain = await attempt(() => fs.unlink("/h"));
  r.rmdirNotEmpty = await attempt(() => fs.rmdir("/d"));
  r.space = await attempt(async () => (await fs.space()).inodes >= 4);
  r.close = await attempt(() => fs.close(fd));
  r.closeAgain = await attempt(() => fs.close(fd));
  r.mkdirRmdir = await attempt(async () => {
    await fs.mkdir("/e");
    await fs.rmdir("/e");
    return (await attempt(() => fs.stat("/e")));
  });
  // A path too long for a message: the request goes through the buffer (FS_INDIRECT).
  const deep = Array.from({ length: 6 }, (_, i) => String(i).repeat(200));
  r.longPath = await attempt(async () => {
    let p = "";
    for (const name of deep) await fs.mkdir(p += `/${name}`);
    await fs.writeFile(`${p}/leaf`, enc.encode("deep"));
    return [p.length, dec.decode(await fs.readFile(`${p}/leaf`))];
  });
  r.pathTooLong = await attempt(() => fs.stat("/" + "a/".repeat(2100)));
}

/** A 1 MiB write and read back through the buffer, timed; small calls timed. */
async function bulk(fs: FsClient, r: Record<string, Outcome>, figures: Record<string, number>) {
  const data = pattern(1 << 20);
  const fd = await fs.open("/big", RW_CREATE);
  const t0 = performance.now();
  r.bigWrite = await attempt(() => fs.write(fd, data));
  const t1 = performance.now();
  r.bigRead = await attempt(async () => {
    const back = await fs.pread(fd, 0, data.length + 10);
    return back.length === data.length && back.every((v, i) => v === data[i]);
  });
  const t2 = performance.now();
  r.bigStat = await attempt(async () => (await fs.stat("/big")).size);
  await fs.close(fd);
  figures.writeMBps = 1 / ((t1 - t0) / 1000);
  figures.readMBps = 1 / ((t2 - t1) / 1000);
  const calls = 200;
  const t3 = performance.now();
  for (let i = 0; i < calls; i++) await fs.stat("/big");
  figures.statUs = ((performance.now() - t3) * 1000) / calls;
}

/** Another connection's descriptors, and a connection closed for good. */
async function connections(ctx: Context, fs: FsClient, r: Record<string, Outcome>) {
  const other = new FsClient(await ctx.connect(ctx.cap("fs")));
  const mine = await fs.open("/mine", RW_CREATE);
  await fs.write(mine, enc.encode("mine"));
  r.foreignFstat = await attempt(() => other.fstat(mine));
  r.foreignRead = await attempt(() => other.read(mine, 4));
  r.foreignClose = await attempt(() => other.close(mine));
  r.ownStillOpen = await attempt(async () => dec.decode(await fs.pread(mine, 0, 4)));
  await fs.close(mine);

  // A connection closed for good: its descriptors close (an unlinked file it held is freed).
  const conn = await ctx.connect(ctx.cap("fs"));
  const doomed = new FsClient(conn);
  await doomed.open("/held", RW_CREATE);
  await fs.unlink("/held");
  const before = (await fs.space()).inodes;
  await ctx.sys.capDelete(conn.slot);
  let after = before;
  for (let i = 0; i < 500 && after === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    after = (await fs.space()).inodes;
  }
  r.closedConnectionFreed = { ok: before - after };
  return other;
}

/** Malformed and hostile requests, each answered by name; the other client is served between. */
async function badInput(fs: FsClient, other: FsClient, r: Record<string, Outcome>) {
  const raw = async (label: number, payload: Uint8Array) =>
    unwrap(await fs.conn.call(label, payload), `fs raw ${label}`);
  const served: Outcome[] = [];
  const serve = async () => served.push(await attempt(async () => (await other.stat("/")).kind));
  r.malformedOpen = await attempt(() => raw(FsLabel.OPEN, new Uint8Array(3)));
  await serve();
  r.malformedText = await attempt(() => raw(FsLabel.STAT, Uint8Array.of(0xff, 0xfe)));
  r.trailingBytes = await attempt(() => raw(FsLabel.FSTAT, new Uint8Array(9)));
  r.fdMinusOne = await attempt(() => fs.fstat(-1));
  await serve();
  r.fdHuge = await attempt(() => fs.fstat(2 ** 40));
  r.fdFraction = await attempt(() => raw(FsLabel.CLOSE, encodeFsRequest([0.5])));
  r.fdNaN = await attempt(() => raw(FsLabel.CLOSE, encodeFsRequest([NaN])));
  const ro = await fs.open("/mine", OpenFlag.RDONLY);
  r.writeReadOnly = await attempt(() => fs.write(ro, enc.encode("x")));
  r.pwriteReadOnly = await attempt(() => fs.pwrite(ro, 0, enc.encode("x")));
  await serve();
  const rw = await fs.open("/mine", OpenFlag.RDWR);
  r.pwriteHugeOffset = await attempt(() => fs.pwrite(rw, 2 ** 40, enc.encode("x")));
  r.pwriteNegative = await attempt(() => fs.pwrite(rw, -1, enc.encode("x")));
  r.ftruncateHuge = await attempt(() => fs.ftruncate(rw, 2 ** 40));
  r.bufferPastEnd = await attempt(() => raw(FsLabel.PREAD, encodeFsRequest([rw, 0, 16, 1 << 30])));
  r.inlineTooLong = await attempt(() => raw(FsLabel.READ, encodeFsRequest([rw, 5000, -1])));
  r.inlineLengthWrong = await attempt(() =>
    raw(FsLabel.WRITE, encodeFsRequest([rw, -1, 10], enc.encode("abc")))
  );
  r.indirectTooLong = await attempt(() =>
    raw(FsLabel.STAT | FS_INDIRECT, encodeFsRequest([1 << 30]))
  );
  r.unknownLabel = await attempt(() => raw(99, new Uint8Array(0)));
  r.nul = await attempt(() => fs.stat("/a\0b"));
  r.relative = await attempt(() => fs.stat("a"));
  r.nameTooLong = await attempt(() => fs.mkdir("/" + "n".repeat(256)));
  r.dotDotAboveRoot = await attempt(async () => (await fs.stat("/../../mine")).size);
  await serve();
  await fs.close(ro);
  await fs.close(rw);
  r.otherServed = { ok: served };
}

async function ops(ctx: Context, fs: FsClient) {
  const r: Record<string, Outcome> = {};
  const figures: Record<string, number> = {};
  await everyOperation(fs, r);
  await bulk(fs, r, figures);
  const other = await connections(ctx, fs, r);
  await badInput(fs, other, r);
  // A write after `before` that sync must make durable: a commit must come between the two
  // (a sync whose cut finds nothing new since the last commit is answered without one).
  const probe = await lastingPmo(ctx, "sync-probe", 1);
  const before = (await ctx.sys.checkpointInfo()).committed;
  probe.setU32(0, probe.getU32(0) + 1);
  await fs.sync();
  const after = (await ctx.sys.checkpointInfo()).committed;
  r.syncAfterCommit = { ok: after > before };
  ctx.print(`fsops ${JSON.stringify(r)}`);
  ctx.print(`fsops-figures ${JSON.stringify(figures)}`);
}

async function keep(ctx: Context, fs: FsClient) {
  const state = await lastingPmo(ctx, "keep", 1);
  return async () => {
    if (state.getU32(0) === 0) {
      await fs.mkdir("/keep").catch(() => {});
      const fd = await fs.open("/keep/file", RW_CREATE);
      // Longer than a message: every read of it goes through the bulk buffer.
      await fs.write(fd, enc.encode(KEPT + ".".repeat(2000)));
      state.setU32(0, fd + 1);
      ctx.print(`fsops kept ${fd}`);
      return;
    }
    const read = await attempt(async () => {
      const text = dec.decode(await fs.pread(state.getU32(0) - 1, 0, 4096));
      return `${text.slice(0, KEPT.length)} ${text.length}`;
    });
    if ("err" in read) return ctx.print(`fsops keep-error ${read.err}`);
    const text = read.ok as string;
    const n = state.getU32(4) + 1;
    state.setU32(4, n);
    ctx.print(`fsops alive ${n} ${text}`);
  };
}

async function quota(ctx: Context, fs: FsClient) {
  const badge = parseJson<ServerStatus>(unwrap(await fs.conn.call(Label.STATUS), "status")).badge;
  return async () => {
    if (ctx.args.wait === 1) {
      const names = (await fs.readdir("/")).map((e) => e.name);
      if (!names.some((n) => n.startsWith("quota-full-"))) return false;
    }
    const fd = await fs.open(`/quota-${badge}`, RW_CREATE);
    let blocks = 0, err = "none";
    for (; blocks < 1000; blocks++) {
      const o = await attempt(() => fs.pwrite(fd, blocks * 4096, new Uint8Array(4096)));
      if ("err" in o) {
        err = o.err;
        break;
      }
    }
    await fs.close(fd);
    await fs.close(await fs.open(`/quota-full-${badge}`, RW_CREATE));
    ctx.print(`fsops quota ${badge} ${blocks} ${err}`);
    return true;
  };
}

runProgram(async (ctx) => {
  const fs = await FsClient.connect(ctx);
  const mode = typeof ctx.args.mode === "string" ? ctx.args.mode : "ops";
  let busy = false, done = false;
  const once = mode === "keep"
    ? await keep(ctx, fs)
    : mode === "quota"
    ? await quota(ctx, fs)
    : async () => {
      // One try: a step that throws shows in the line the test reads, not as a hang.
      await ops(ctx, fs).catch((e) =>
        ctx.print(`fsops ${JSON.stringify({ stepFailed: String(e) })}`)
      );
      return true;
    };
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy || done) return;
    busy = true;
    return once().then((finished) => {
      if (finished === true) done = true;
    }).catch((e) => ctx.log(`fsops: step failed: ${String(e)}; again on the next tick`))
      .finally(() => busy = false);
  });
});
