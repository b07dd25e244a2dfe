/**
 * The NIC's transmit path with commit-gated release, and the receive side's
 * commit-gated ACK and SYNC: a frame the network
 * driver writes into the transmit ring reaches the link only once the
 * checkpoint covering it has committed (with checkpoints off, at once; a
 * FIN after the connection's last byte likewise), and
 * a resumed machine sends the committed frames again from the ring's oldest
 * one (the switch drops what its clients already have). A stand-in switch
 * on the link socket (this process) records every frame the NIC sends; the
 * sender is tests/programs/nic_sender.ts.
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env --allow-net tests/hw/nic_tx_test.ts`.
 */

import assert from "node:assert/strict";
import { encodeFrame, FrameReader, FrameType, type LinkFrame } from "../../kernel/abi/net_link.ts";
import { EXIT_POWER_FAILURE } from "../../hw/board.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { imageDir } from "../../tools/temp_image.ts";
import { removeImage, tempImage } from "../helpers.ts";
import { NIC_SENDER_TEXT } from "../programs/nic_sender.ts";

const CONN = 7;
const PORT = 7070;
const SENDER = ["--apps", `tests/programs/nic_sender.ts?port=${PORT}`];
/**
 * Checkpoints slowed to a minute and group commit off: none comes until the
 * test's `checkpoint-ms` command.
 */
const SLOW = ["--checkpoint-ms", "60000", "--group-commit", "off", "--commands"];

/** One machine on the stand-in's link: the frames it sent, and whether it hung up. */
interface Link {
  frames: LinkFrame[];
  closed: boolean;
}

/**
 * A stand-in switch: accepts NIC links, answers SYNC_END with SYNC_DONE,
 * records frames, and OPENs connection {@link CONN} on {@link PORT} when
 * told (as a client connecting would).
 */
class StandInSwitch {
  readonly links: Link[] = [];
  private waiters: Array<() => void> = [];
  private readonly listener: Deno.UnixListener;

  constructor(readonly path: string) {
    this.listener = Deno.listen({ transport: "unix", path });
    this.accept();
  }

  private async accept(): Promise<void> {
    try {
      for await (const conn of this.listener) this.serve(conn);
    } catch { /* closed by the test */ }
  }

  /** The newest link's connection. */
  private current: Deno.Conn | undefined;

  /** A client connects: OPEN {@link CONN} on {@link PORT} on the newest link. */
  async open(): Promise<void> {
    await this.write(encodeFrame(FrameType.OPEN, CONN, 0, undefined, PORT));
  }

  /** Writes a frame to the newest link. */
  async write(frame: Uint8Array): Promise<void> {
    await this.current!.write(frame);
  }

  private async serve(conn: Deno.Conn): Promise<void> {
    this.current = conn;
    const link: Link = { frames: [], closed: false };
    this.links.push(link);
    const reader = new FrameReader();
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const f of reader.push(buf.subarray(0, n))) {
          link.frames.push(f);
          if (f.type === FrameType.SYNC_END) await conn.write(encodeFrame(FrameType.SYNC_DONE, 0));
        }
        this.wake();
      }
    } catch { /* the machine died */ }
    link.closed = true;
    this.wake();
    try {
      conn.close();
    } catch { /* closed */ }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds over the links so far; rejects after `timeoutMs` (a hang guard). */
  async until(pred: (links: Link[]) => boolean, timeoutMs = 60_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stand-in switch: no matching frames within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      while (!pred(this.links)) {
        await Promise.race([new Promise<void>((r) => this.waiters.push(r)), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.listener.close();
  }
}

/** The DATA frames of connection {@link CONN} on `link`. */
function dataOf(link: Link | undefined): LinkFrame[] {
  return (link?.frames ?? []).filter((f) => f.type === FrameType.DATA && f.conn === CONN);
}

/** True once `link` carries the sender's frame at offset 0. */
function carriesSent(link: Link | undefined): boolean {
  return dataOf(link).some((f) =>
    f.off === 0 && new TextDecoder().decode(f.data) === NIC_SENDER_TEXT
  );
}

/** True once `link` carries the sender's FIN, after its frame and at the offset the text ends. */
function carriesFin(link: Link | undefined): boolean {
  const frames = link?.frames ?? [];
  const fin = frames.findIndex((f) => f.type === FrameType.FIN && f.conn === CONN);
  const data = frames.findIndex((f) => f.type === FrameType.DATA && f.conn === CONN);
  return fin > data && data !== -1 &&
    frames[fin].off === new TextEncoder().encode(NIC_SENDER_TEXT).length;
}

/** Runs `body` with a fresh image and a stand-in switch beside it. */
async function withSwitch(
  label: string,
  body: (image: string, sw: StandInSwitch) => Promise<void>,
): Promise<void> {
  const image = tempImage(label);
  const sw = new StandInSwitch(`${imageDir(image)}/link.sock`);
  try {
    await body(image, sw);
  } finally {
    sw.close();
    removeImage(image);
  }
}

const sent = (l: { t: string; text?: string }) =>
  l.t === "log" && (l.text ?? "").startsWith("nic_sender: sent");
const listening = (l: { t: string; text?: string }) =>
  l.t === "log" && (l.text ?? "").startsWith("nic_sender: listening");

/** Waits until the sender listens and the link is in sync, then connects a client to it. */
async function connectClient(m: MachineProcess, sw: StandInSwitch): Promise<void> {
  await m.waitFor(listening);
  await sw.until((links) => links.some((l) => l.frames.some((f) => f.type === FrameType.SYNC_END)));
  await sw.open();
}

Deno.test("nic tx: a frame whose checkpoint never commits never reaches the link", async () => {
  await withSwitch("nictx-lost", async (image, sw) => {
    const m = MachineProcess.start(image, [
      "--fresh",
      "--net-link",
      sw.path,
      ...SLOW,
      "--power-fail",
      "superblock-before:0",
      ...SENDER,
    ]);
    await connectClient(m, sw);
    await m.waitFor(sent);
    await m.send({ t: "checkpoint-ms", ms: 1 });
    assert.equal((await m.exited).code, EXIT_POWER_FAILURE, "power failed before the commit");
    await sw.until((links) => links.length > 0 && links.every((l) => l.closed));
    assert.deepEqual(dataOf(sw.links[0]), [], "no transmitted byte left before a commit");
  });
});

Deno.test("nic tx: a committed frame leaves at the commit, and a resumed machine sends it again", async () => {
  await withSwitch("nictx-commit", async (image, sw) => {
    const link = ["--net-link", sw.path];
    const first = MachineProcess.start(image, ["--fresh", ...link, ...SLOW, ...SENDER]);
    await connectClient(first, sw);
    await first.waitFor(sent);
    await sw.until((links) => links.length === 1);
    assert.deepEqual(dataOf(sw.links[0]), [], "nothing leaves before the checkpoint");
    await first.send({ t: "checkpoint-ms", ms: 1 });
    await sw.until((links) => carriesSent(links[0]) && carriesFin(links[0]));
    await first.kill();
    await sw.until((links) => links[0].closed);

    // Resumed: RELEASED is not known after a crash, so the ring's committed frames go again
    // (the switch drops what its client has); the sender does not send twice.
    const second = MachineProcess.start(image, link);
    assert.equal((await second.ready()).resumed, true);
    await sw.until((links) => carriesSent(links[1]));
    await second.shutdown();
    assert.equal(dataOf(sw.links[1]).length, 1, "the frame once, not a second send");
  });
});

Deno.test("nic tx: a frame committed but not released before a power failure goes out after the resume", async () => {
  await withSwitch("nictx-resend", async (image, sw) => {
    const link = ["--net-link", sw.path];
    const first = MachineProcess.start(image, [
      "--fresh",
      ...link,
      ...SLOW,
      "--power-fail",
      "superblock-after:0",
      ...SENDER,
    ]);
    await connectClient(first, sw);
    await first.waitFor(sent);
    await first.send({ t: "checkpoint-ms", ms: 1 });
    assert.equal((await first.exited).code, EXIT_POWER_FAILURE, "stopped right after the commit");
    await sw.until((links) => links.length === 1 && links[0].closed);
    assert.deepEqual(dataOf(sw.links[0]), [], "not released before the power failure");

    const second = MachineProcess.start(image, link);
    assert.equal((await second.ready()).resumed, true);
    await sw.until((links) => carriesSent(links[1]));
    await second.shutdown();
  });
});

Deno.test("nic tx: with group commit a frame leaves at the next commit, not after the period", async () => {
  await withSwitch("nictx-group", async (image, sw) => {
    // A period of a minute: only output waiting (group commit) can start the checkpoint in time.
    const m = MachineProcess.start(image, [
      "--fresh",
      "--net-link",
      sw.path,
      "--checkpoint-ms",
      "60000",
      ...SENDER,
    ]);
    await connectClient(m, sw);
    await m.waitFor(sent);
    await sw.until((links) => carriesSent(links[0]) && carriesFin(links[0]), 20_000);
    await m.shutdown();
  });
});

Deno.test("nic tx: with checkpoints off a frame leaves at once", async () => {
  await withSwitch("nictx-off", async (image, sw) => {
    const m = MachineProcess.start(image, [
      "--fresh",
      "--net-link",
      sw.path,
      "--checkpoint-ms",
      "0",
      ...SENDER,
    ]);
    await connectClient(m, sw);
    await sw.until((links) => carriesSent(links[0]));
    await m.shutdown();
  });
});

Deno.test("nic rx: inbound bytes are ACKed at the commit of the state that consumed them, and a resumed machine SYNCs from that state", async () => {
  await withSwitch("nicrx-ack", async (image, sw) => {
    const echo = ["--apps", `echo?port=${PORT}`, "--net-link", sw.path];
    const first = MachineProcess.start(image, ["--fresh", ...echo, ...SLOW]);
    await first.waitFor((l) => l.t === "log" && l.text.startsWith("echo: listening"));
    await sw.until((links) => links[0]?.frames.some((f) => f.type === FrameType.SYNC_END));
    await sw.open();
    await sw.write(encodeFrame(FrameType.DATA, CONN, 0, new TextEncoder().encode("hi\n")));
    await first.send({ t: "checkpoint-ms", ms: 1 });
    const acked = (l: Link | undefined) =>
      (l?.frames ?? []).some((f) => f.type === FrameType.ACK && f.conn === CONN && f.off === 3);
    await sw.until((links) => acked(links[0]));
    await sw.until((links) =>
      dataOf(links[0]).some((f) => new TextDecoder().decode(f.data) === "1 hi\n")
    );
    await first.kill();
    await sw.until((links) => links[0].closed);

    const second = MachineProcess.start(image, echo);
    await second.ready();
    await sw.until((links) =>
      (links[1]?.frames ?? []).some((f) => f.type === FrameType.SYNC && f.conn === CONN)
    );
    const sync = sw.links[1].frames.find((f) => f.type === FrameType.SYNC && f.conn === CONN)!;
    assert.equal(sync.off, 3, "the committed state consumed the 3 bytes");
    assert.equal(sync.port, PORT);
    await second.shutdown();
  });
});
