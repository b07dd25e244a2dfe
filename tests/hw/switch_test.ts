/**
 * The switch (hw/switch.ts) in its own process, with a real TCP client and
 * a stand-in machine on the link socket: bytes flow both ways; after the
 * machine goes away and a new one says how far its committed state got, the
 * switch re-sends the inbound rest and drops the outbound bytes the client
 * already has; the client's connection stays open throughout.
 *
 * Run: `deno test --allow-read --allow-write --allow-run --allow-env --allow-net tests/hw/switch_test.ts`.
 */

import assert from "node:assert/strict";
import { encodeFrame, FrameReader, FrameType, type LinkFrame } from "../../kernel/abi/net_link.ts";
import { SwitchProcess } from "../../tools/net_process.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stand-in for the machine's NIC: frames in a queue, awaited by predicate. */
class FakeMachine {
  private readonly reader = new FrameReader();
  readonly frames: LinkFrame[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly link: Deno.Conn) {
    this.pump();
  }

  static async connect(path: string): Promise<FakeMachine> {
    return new FakeMachine(await Deno.connect({ transport: "unix", path }));
  }

  private async pump(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.link.read(buf);
        if (n === null) return;
        this.frames.push(...this.reader.push(buf.subarray(0, n)));
        for (const w of this.waiters.splice(0)) w();
      }
    } catch { /* closed by the test */ }
  }

  async send(...frames: Uint8Array[]): Promise<void> {
    for (const f of frames) await this.link.write(f);
  }

  /** Waits until `pred` holds over the frames received so far. */
  async until(pred: (frames: LinkFrame[]) => boolean): Promise<void> {
    while (!pred(this.frames)) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** The inbound bytes of `conn` received so far, by stream offset from `from`. */
  inbound(conn: number, from: number): string {
    const bytes: number[] = [];
    for (const f of this.frames) {
      if (f.type !== FrameType.DATA || f.conn !== conn) continue;
      for (let i = 0; i < f.data.length; i++) bytes[f.off + i - from] = f.data[i];
    }
    return dec.decode(new Uint8Array(bytes.filter((b) => b !== undefined)));
  }

  close(): void {
    this.link.close();
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A stand-in machine that says hello, asks for `port`, and waits until the switch listens on it. */
async function listeningMachine(
  sw: SwitchProcess,
  path: string,
  port: number,
): Promise<FakeMachine> {
  const m = await FakeMachine.connect(path);
  await m.send(
    encodeFrame(FrameType.HELLO, 0),
    encodeFrame(FrameType.LISTEN, 0, 0, undefined, port),
    encodeFrame(FrameType.SYNC_END, 0),
  );
  await sw.waitFor((l) => l.t === "listening" && l.port === port);
  return m;
}

async function readExactly(c: Deno.Conn, n: number): Promise<string> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await c.read(out.subarray(got));
    assert.notEqual(k, null, `the client's connection closed after ${got} of ${n} bytes`);
    got += k!;
  }
  return dec.decode(out);
}

Deno.test("switch: a client's stream survives the machine going away, each byte delivered once", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "tardigrade-switch-" });
  const path = `${dir}/link.sock`;
  const sw = await SwitchProcess.start(path);
  const port = freePort();
  try {
    let m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    await client.write(enc.encode("hello"));
    await m.until((fs) => fs.some((f) => f.type === FrameType.OPEN));
    const conn = m.frames.find((f) => f.type === FrameType.OPEN)!.conn;
    await m.until(() => m.inbound(conn, 0) === "hello");
    await m.send(encodeFrame(FrameType.DATA, conn, 0, enc.encode("HELLO")));
    assert.equal(await readExactly(client, 5), "HELLO");

    // The machine dies; its committed state consumed 2 inbound bytes and produced "HE".
    m.close();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    await client.write(enc.encode(" world"));
    m = await FakeMachine.connect(path);
    await m.send(
      encodeFrame(FrameType.HELLO, 0),
      encodeFrame(FrameType.LISTEN, 0, 0, undefined, port),
      encodeFrame(FrameType.SYNC, conn, 2),
      encodeFrame(FrameType.SYNC_END, 0),
    );
    await m.until(() => m.inbound(conn, 2) === "llo world");
    assert.ok(
      !m.frames.some((f) => f.type === FrameType.OPEN),
      "a known connection is not re-opened",
    );
    assert.ok(
      m.frames.every((f) => f.type !== FrameType.DATA || f.off >= 2),
      "nothing the committed state consumed is sent again",
    );
    // The resumed machine re-sends its output from offset 2 on: the client gets the new part once.
    await m.send(encodeFrame(FrameType.DATA, conn, 2, enc.encode("LLO WORLD")));
    assert.equal(await readExactly(client, 6), " WORLD");

    // The machine closes after 11 bytes: the client reads EOF, nothing more.
    await m.send(encodeFrame(FrameType.FIN, conn, 11));
    assert.equal(await client.read(new Uint8Array(16)), null);
    client.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  } finally {
    await sw.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("switch: a connection opened while the machine is down is opened at the next sync; an unknown one is GONE", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "tardigrade-switch-" });
  const path = `${dir}/link.sock`;
  const sw = await SwitchProcess.start(path);
  const port = freePort();
  try {
    let m = await listeningMachine(sw, path, port);
    m.close();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    await client.write(enc.encode("early"));
    m = await FakeMachine.connect(path);
    await m.send(
      encodeFrame(FrameType.HELLO, 0),
      encodeFrame(FrameType.SYNC, 77, 0),
      encodeFrame(FrameType.SYNC_END, 0),
    );
    await m.until((fs) => fs.some((f) => f.type === FrameType.SYNC_DONE));
    assert.ok(m.frames.some((f) => f.type === FrameType.GONE && f.conn === 77));
    const open = m.frames.find((f) => f.type === FrameType.OPEN);
    assert.ok(open, "the connection made while the machine was down is opened");
    assert.equal(open.port, port);
    await m.until(() => m.inbound(open.conn, 0) === "early");
    client.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  } finally {
    await sw.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
