/**
 * The ledger: a workload that uses every server and checks its own data,
 * for fault injection (`deno task scenario faults`). On every timer tick it
 * appends entry n: it writes n into slot (n-1) mod 4096 of the file
 * "/ledger" (the FS server, through a descriptor it keeps), writes n
 * into the named memory object "ledger:count", pings the network driver,
 * and only then records n as acknowledged in its own PMO and prints
 * `ledger n`. Its requests are idempotent, so a call cut short by a
 * server's death is sent again once that server is back (transparent retry,
 * `retryOnPeerDeath`); a step that fails anyway is tried again on the next
 * tick.
 *
 * Every 25 entries, and at every start, it reads its entries back and
 * prints `ledger LOST entry k (read v)` for each one that is not there.
 * Once `ledger n` has been released, n is committed: it must never be lost.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Label } from "../protocol.ts";
import { FsClient } from "../runtime/fs.ts";
import { FsError, OpenFlag } from "../fs/vfs.ts";
import { MemoryClient } from "../memory/client.ts";
import { unwrap } from "../runtime/ipc.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { CapName } from "../runtime/names.ts";
import { lastingConnection, lastingPmo } from "../runtime/service.ts";

/** State PMO words: entries acknowledged by every server. */
const ACKED_OFFSET = 0;
/** State PMO word: the ledger file's descriptor + 1 (0: none opened yet). */
const FD_OFFSET = 4;
/** Entries the file holds before it wraps (4 bytes each). */
const FILE_ENTRIES = 4096;
/**
 * Entries a check at start can cover: entry acked+1 may have been written
 * (over entry acked+1-FILE_ENTRIES) but not acknowledged.
 */
const CHECKABLE_ENTRIES = FILE_ENTRIES - 1;
/** Entries one read covers. */
const READ_ENTRIES = 240;
/** Entries between two verifications. */
const VERIFY_EVERY = 25;
/** Tries of a request whose server died, and the longest wait for it to be back. */
const RETRY_ATTEMPTS = 3, RETRY_WAIT_MS = 10_000;
const FILE = "/ledger";
const COUNT_OBJECT = "ledger:count";

/** Reads entries [from, to] back (to - from < FILE_ENTRIES); returns the ones missing. */
async function verify(
  fs: FsClient,
  fd: number,
  from: number,
  to: number,
): Promise<string[]> {
  const lost: string[] = [];
  for (let first = from; first <= to; first += READ_ENTRIES) {
    const last = Math.min(to, first + READ_ENTRIES - 1);
    const at = (first - 1) % FILE_ENTRIES;
    const count = Math.min(last - first + 1, FILE_ENTRIES - at);
    const bytes = await fs.pread(fd, at * 4, count * 4);
    const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      const got = 4 * i + 4 <= bytes.byteLength ? words.getUint32(4 * i, true) : 0;
      if (got !== first + i) lost.push(`ledger LOST entry ${first + i} (read ${got})`);
    }
    first -= READ_ENTRIES - count; // a read that stopped at the wrap continues from there
  }
  return lost;
}

async function countObject(memory: MemoryClient): Promise<string> {
  try {
    return (await memory.open(COUNT_OBJECT)).id;
  } catch (e) {
    if (!(e instanceof TardigradeError && e.code === Err.E_NOT_FOUND)) throw e;
    return (await memory.create(COUNT_OBJECT, 8)).id;
  }
}

runProgram(async (ctx: Context) => {
  const state = await lastingPmo(ctx, "state", 1);
  const memoryConn = await lastingConnection(ctx, "memory");
  const fs = await FsClient.connect(ctx);
  const fsConn = fs.conn;
  const net = await lastingConnection(ctx, "net");
  // Every request the ledger makes is idempotent: a server's death is retried, not reported.
  for (const c of [memoryConn, fsConn, net]) c.retryOnPeerDeath(RETRY_ATTEMPTS, RETRY_WAIT_MS);
  const memory = new MemoryClient(memoryConn);
  /**
   * The file's descriptor: the one kept in the state PMO while the FS server
   * still has it open for this connection (descriptors outlive a restart of
   * either side), else a new one.
   */
  const ledgerFd = async (): Promise<number> => {
    const kept = state.getU32(FD_OFFSET) - 1;
    if (kept >= 0) {
      try {
        await fs.fstat(kept);
        return kept;
      } catch (e) {
        if (!FsError.from(e)) throw e;
      }
    }
    const fd = await fs.open(FILE, OpenFlag.RDWR | OpenFlag.CREAT);
    state.setU32(FD_OFFSET, fd + 1);
    return fd;
  };
  let fd: number | undefined;
  let busy = false;
  let failures = 0;
  let retriedLogged = 0;
  const report = (lost: string[]) => lost.forEach((l) => ctx.print(l));

  /** One step: append the next entry (again, if the last try failed). */
  const step = async () => {
    const n = state.getU32(ACKED_OFFSET) + 1;
    fd ??= await ledgerFd();
    const entry = new Uint8Array(4);
    new DataView(entry.buffer).setUint32(0, n, true);
    await fs.pwrite(fd, ((n - 1) % FILE_ENTRIES) * 4, entry);
    const count = new Uint8Array(8);
    new DataView(count.buffer).setFloat64(0, n, true);
    await memory.write(await countObject(memory), 0, count);
    unwrap(await net.call(Label.ECHO, entry), "net echo");
    const retried = memoryConn.retried + fsConn.retried + net.retried;
    if (retried > retriedLogged) {
      retriedLogged = retried;
      ctx.log(`ledger: ${retried} calls sent again after their server died`);
    }
    state.setU32(ACKED_OFFSET, n);
    ctx.print(`ledger ${n}`);
    if (n % VERIFY_EVERY === 0) report(await verify(fs, fd, n - VERIFY_EVERY + 1, n));
  };

  const run = (work: () => Promise<void>) => {
    if (busy) return;
    busy = true;
    work().catch((e) => {
      failures++;
      const code = e instanceof TardigradeError ? e.codeName : String(e);
      ctx.log(`ledger: step failed (${code}); retrying on the next tick (${failures} so far)`);
    }).finally(() => busy = false);
  };

  // At every start (as its first step, so start-up stays short): check that what the
  // previous life acknowledged is all there.
  let verifyPending = ctx.resumed && state.getU32(ACKED_OFFSET) > 0;
  const verifyAll = async () => {
    const acked = state.getU32(ACKED_OFFSET);
    fd ??= await ledgerFd();
    const lost = await verify(fs, fd, Math.max(1, acked - CHECKABLE_ENTRIES + 1), acked);
    report(lost);
    ctx.print(`ledger verified ${Math.min(acked, CHECKABLE_ENTRIES)} entries, ${lost.length} lost`);
    verifyPending = false;
  };
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => run(verifyPending ? verifyAll : step));
});
