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
import {
  encodeFrame,
  FrameReader,
  FrameType,
  type LinkFrame,
  RX_WINDOW_BYTES,
  TX_WINDOW_BYTES,
  writeAll,
} from "../../kernel/abi/net_link.ts";
import { SwitchProcess } from "../../tools/net_process.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `p`, or a rejection saying `what` if `timeoutMs` passes first (a broken switch fails, not hangs). */
async function bounded<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`stand-in machine: ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stand-in for the machine's NIC: frames in a queue, awaited by predicate. */
class FakeMachine {
  private readonly reader = new FrameReader();
  readonly frames: LinkFrame[] = [];
  private waiters: Array<() => void> = [];
  private readonly pumped: Promise<void>;
  private constructor(readonly link: Deno.Conn) {
    this.pumped = this.pump();
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

  /** Waits until `pred` holds over the frames received so far; rejects if `timeoutMs` passes first. */
  async until(pred: (frames: LinkFrame[]) => boolean, timeoutMs = 30_000): Promise<void> {
    await bounded(
      (async () => {
        while (!pred(this.frames)) await new Promise<void>((r) => this.waiters.push(r));
      })(),
      timeoutMs,
      "no matching frame",
    );
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

  /** The end of the furthest inbound DATA of `conn` received so far. */
  inboundEnd(conn: number): number {
    return Math.max(
      0,
      ...this.frames.filter((f) => f.type === FrameType.DATA && f.conn === conn).map((f) =>
        f.off + f.data.length
      ),
    );
  }

  /** Waits for the `n`th (from 1) OPEN frame and returns its connection. */
  async opened(n: number): Promise<number> {
    await this.until((fs) => fs.filter((f) => f.type === FrameType.OPEN).length >= n);
    return this.frames.filter((f) => f.type === FrameType.OPEN)[n - 1].conn;
  }

  /** Waits until the switch ACKs `conn`'s outbound stream at `off` (delivered to the client). */
  async acked(conn: number, off: number): Promise<void> {
    await this.until((fs) =>
      fs.some((f) => f.type === FrameType.ACK && f.conn === conn && f.off === off)
    );
  }

  /** Resolves once the switch closes the link (EOF on it); rejects if `timeoutMs` passes first. */
  async dropped(timeoutMs = 30_000): Promise<void> {
    await bounded(this.pumped, timeoutMs, "the switch did not drop the link");
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

/**
 * A stand-in machine that says hello, asks for `port`, lists `syncs`
 * (connection, consumed offset), and waits until the switch listens on it.
 */
async function listeningMachine(
  sw: SwitchProcess,
  path: string,
  port: number,
  syncs: Array<[conn: number, consumed: number]> = [],
): Promise<FakeMachine> {
  const m = await FakeMachine.connect(path);
  await m.send(
    encodeFrame(FrameType.HELLO, 0),
    encodeFrame(FrameType.LISTEN, 0, 0, undefined, port),
    ...syncs.map(([conn, off]) => encodeFrame(FrameType.SYNC, conn, off)),
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

/** Runs `body` against a switch started with `flags`, on a free port; stops it and cleans up. */
async function withSwitch(
  flags: string[],
  body: (sw: SwitchProcess, path: string, port: number) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "tardigrade-switch-" });
  const sw = await SwitchProcess.start(`${dir}/link.sock`, flags);
  try {
    await body(sw, sw.linkPath, freePort());
  } finally {
    await sw.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("switch: a client's stream survives the machine going away, each byte delivered once", async () => {
  await withSwitch([], async (sw, path, port) => {
    let m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    await client.write(enc.encode("hello"));
    const conn = await m.opened(1);
    await m.until(() => m.inbound(conn, 0) === "hello");
    await m.send(encodeFrame(FrameType.DATA, conn, 0, enc.encode("HELLO")));
    assert.equal(await readExactly(client, 5), "HELLO");

    // The machine dies; its committed state consumed 2 inbound bytes and produced "HE".
    m.close();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    await client.write(enc.encode(" world"));
    m = await listeningMachine(sw, path, port, [[conn, 2]]);
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
  });
});

Deno.test("switch: a connection opened while the machine is down is opened at the next sync; an unknown one is GONE", async () => {
  await withSwitch([], async (sw, path, port) => {
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
  });
});

/**
 * A round trip through the switch on `conn` (the machine's outbound byte at
 * `off` reaches the client and its ACK comes back): whatever the switch was
 * going to send the machine before it has had its turns to do so.
 */
async function roundTrip(m: FakeMachine, client: Deno.Conn, conn: number, off: number) {
  await m.send(encodeFrame(FrameType.DATA, conn, off, enc.encode("x")));
  assert.equal(await readExactly(client, 1), "x");
  await m.acked(conn, off + 1);
}

Deno.test("switch: inbound bytes go to the machine only within its window, the rest after each ACK, in order", async () => {
  await withSwitch([], async (sw, path, port) => {
    const m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    const sent = new Uint8Array(3 * RX_WINDOW_BYTES).map((_, i) => (i * 7 + (i >> 11)) & 0xff);
    await writeAll(client, sent);
    client.closeWrite(); // its FIN is at the end of the stream, behind the window
    const conn = await m.opened(1);
    let out = 0;
    for (let acked = 0; acked < sent.length; acked += RX_WINDOW_BYTES) {
      await m.until(() => m.inboundEnd(conn) >= acked + RX_WINDOW_BYTES);
      await roundTrip(m, client, conn, out++);
      assert.equal(
        m.inboundEnd(conn),
        acked + RX_WINDOW_BYTES,
        `nothing past ACK ${acked} + window`,
      );
      await m.send(encodeFrame(FrameType.ACK, conn, acked + RX_WINDOW_BYTES));
    }
    let end = 0;
    for (const f of m.frames.filter((f) => f.type === FrameType.DATA && f.conn === conn)) {
      assert.equal(f.off, end, "inbound DATA arrives in order, each byte once");
      assert.deepEqual(f.data, sent.subarray(end, end + f.data.length));
      end += f.data.length;
    }
    // The client's FIN comes once every byte before it is sent.
    await m.until((fs) => fs.some((f) => f.type === FrameType.FIN && f.conn === conn));
    const fin = m.frames.findIndex((f) => f.type === FrameType.FIN);
    assert.equal(m.frames[fin].off, sent.length);
    assert.ok(m.frames.slice(fin).every((f) => f.type !== FrameType.DATA), "no DATA after FIN");
    client.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  });
});

Deno.test("switch: outbound bytes are ACKed as delivered, again before SYNC_DONE at a resync; past the window is a violation", async () => {
  await withSwitch([], async (sw, path, port) => {
    let m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await m.opened(1);
    await m.send(
      encodeFrame(FrameType.DATA, conn, 0, enc.encode("abc")),
      encodeFrame(FrameType.DATA, conn, 3, enc.encode("def")),
    );
    assert.equal(await readExactly(client, 6), "abcdef");
    await m.acked(conn, 6);
    const acks = m.frames.filter((f) => f.type === FrameType.ACK).map((f) => f.off);
    assert.ok(acks.every((off, i) => off > 0 && off <= 6 && off > (acks[i - 1] ?? 0)), `${acks}`);

    m.close();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    m = await listeningMachine(sw, path, port, [[conn, 0]]);
    await m.until((fs) => fs.some((f) => f.type === FrameType.SYNC_DONE));
    const ack = m.frames.findIndex((f) => f.type === FrameType.ACK && f.conn === conn);
    assert.equal(m.frames[ack]?.off, 6, "the resumed machine learns what the client has");
    assert.ok(ack < m.frames.findIndex((f) => f.type === FrameType.SYNC_DONE));
    assert.deepEqual(sw.violations(), []);

    // A byte past delivered + window (6 + TX_WINDOW_BYTES): reported, and still delivered.
    await m.send(encodeFrame(FrameType.DATA, conn, 6 + TX_WINDOW_BYTES, enc.encode("z")));
    await sw.waitFor((l) => l.t === "violation" && l.text.includes("past the window"));
    assert.equal(await readExactly(client, 1), "z");
    client.close();
    m.close();
  });
});

Deno.test("switch: a machine's FIN waits for its data, then the client reads EOF and the machine gets GONE", async () => {
  await withSwitch([], async (sw, path, port) => {
    const m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await m.opened(1);
    await m.send(encodeFrame(FrameType.FIN, conn, 5));
    await roundTrip(m, client, conn, 0);
    assert.ok(!m.frames.some((f) => f.type === FrameType.GONE), "not closed before its data");
    await m.send(encodeFrame(FrameType.DATA, conn, 1, enc.encode("bye!")));
    assert.equal(await readExactly(client, 4), "bye!");
    await sw.waitFor((l) => l.t === "closed" && l.conn === conn);
    assert.equal(await client.read(new Uint8Array(16)), null);
    await m.until((fs) => fs.some((f) => f.type === FrameType.GONE && f.conn === conn));
    client.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  });
});

Deno.test("switch: --max-connections closes the client past the limit at once; the first ones stay open", async () => {
  await withSwitch(["--max-connections", "2"], async (sw, path, port) => {
    const m = await listeningMachine(sw, path, port);
    const clients: Deno.Conn[] = [];
    for (let n = 1; n <= 2; n++) {
      clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      await m.opened(n);
    }
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    await sw.waitFor((l) => l.t === "closed" && l.why.includes("--max-connections 2"));
    assert.equal(await extra.read(new Uint8Array(16)), null, "the client past the limit reads EOF");
    for (const [i, client] of clients.entries()) {
      const conn = await m.opened(i + 1);
      await client.write(enc.encode(`c${i}`));
      await m.until(() => m.inbound(conn, 0) === `c${i}`);
      await roundTrip(m, client, conn, 0);
    }
    assert.equal(m.frames.filter((f) => f.type === FrameType.OPEN).length, 2);
    for (const c of [...clients, extra]) c.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  });
});

Deno.test("switch: --hold-ms closes a client that no machine opens in time; one a machine opened stays", async () => {
  await withSwitch(["--hold-ms", "100"], async (sw, path, port) => {
    let m = await listeningMachine(sw, path, port);
    const kept = await Deno.connect({ hostname: "127.0.0.1", port });
    const keptConn = await m.opened(1);
    m.close();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    const waiting = await Deno.connect({ hostname: "127.0.0.1", port });
    await waiting.write(enc.encode("anyone?"));
    await sw.waitFor((l) => l.t === "closed" && l.why.includes("--hold-ms"));
    assert.equal(await waiting.read(new Uint8Array(16)), null, "told nothing, then closed");
    m = await listeningMachine(sw, path, port, [[keptConn, 0]]);
    await m.until((fs) => fs.some((f) => f.type === FrameType.SYNC_DONE));
    assert.ok(!m.frames.some((f) => f.type === FrameType.OPEN), "the closed client is not opened");
    await roundTrip(m, kept, keptConn, 0);
    for (const c of [kept, waiting]) c.close();
    m.close();
    assert.deepEqual(sw.violations(), []);
  });
});

Deno.test("switch: garbage on the link is a violation that drops the link; the next machine syncs and the client is untouched", async () => {
  await withSwitch([], async (sw, path, port) => {
    let m = await listeningMachine(sw, path, port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await m.opened(1);
    await m.send(new Uint8Array(32).fill(0xff));
    await sw.waitFor((l) => l.t === "violation" && l.text.includes("not a frame"));
    await m.dropped();
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    await client.write(enc.encode("still here"));
    m = await listeningMachine(sw, path, port, [[conn, 0]]);
    await m.until(() => m.inbound(conn, 0) === "still here");
    await roundTrip(m, client, conn, 0);
    client.close();
    m.close();
    assert.equal(sw.violations().length, 1);
  });
});
