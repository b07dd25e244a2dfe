/**
 * A headless Chromium driven through the DevTools protocol over Deno's own
 * WebSocket: no npm package. Debian's `chromium` is installed with apt-get
 * when /usr/bin/chromium is missing (tests/helpers.ts requireCommand says so).
 *
 * {@link HeadlessChromium.launch} starts it on a free debugging port with a
 * throw-away profile; {@link HeadlessChromium.open} opens a page and returns
 * a {@link PageSession}: `evaluate` an expression, `screenshot` as PNG.
 *
 * @module
 */

import { textLines } from "../../hw/text_lines.ts";
import { requireCommand } from "../helpers.ts";

/** Where Debian puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** One page of the browser, over its own DevTools WebSocket. */
export class PageSession {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      const w = this.waiting.get(msg.id);
      if (!w) return; // an event: not asked for
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(`DevTools: ${msg.error.message}`));
      else w.resolve(msg.result);
    };
    ws.onclose = () => {
      for (const w of this.waiting.values()) w.reject(new Error("DevTools: the page closed"));
      this.waiting.clear();
    };
  }

  /** Connects to a page's `webSocketDebuggerUrl`. */
  static connect(url: string): Promise<PageSession> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new PageSession(ws));
      ws.onerror = () => reject(new Error(`DevTools: cannot connect to ${url}`));
    });
  }

  /** Sends one DevTools command; resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** The value of a JavaScript expression in the page (awaited when a promise); throws what it threw. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`page: ${d.exception?.description ?? d.text} in ${expression}`);
    }
    return r.result.value;
  }

  /** A PNG of the page as it is now, `width`×`height` CSS pixels. */
  async screenshot(width: number, height: number): Promise<Uint8Array> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const r = await this.send("Page.captureScreenshot", { format: "png" }) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  /** Closes the connection. */
  close(): void {
    this.ws.close();
  }
}

/** A running headless Chromium. */
export class HeadlessChromium {
  private constructor(
    private readonly child: Deno.ChildProcess,
    private readonly profile: string,
    /** `http://127.0.0.1:PORT`: the browser's DevTools HTTP endpoint. */
    readonly endpoint: string,
  ) {}

  /** Starts the browser; resolves once it says where its DevTools listen. */
  static async launch(): Promise<HeadlessChromium> {
    await requireCommand(CHROMIUM_PATH, "chromium");
    const profile = await Deno.makeTempDir({ prefix: "tardigrade-chromium-" });
    const child = new Deno.Command(CHROMIUM_PATH, {
      args: [
        "--headless=new",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start
        "--no-first-run",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const said: string[] = [];
    const lines = textLines(child.stderr);
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const m = /DevTools listening on ws:\/\/([^/]+)\//.exec(next.value);
      if (m) {
        (async () => { // keep reading what it says, so its stderr never fills
          for (let n = await lines.next(); !n.done; n = await lines.next()) { /* drop */ }
        })();
        return new HeadlessChromium(child, profile, `http://${m[1]}`);
      }
      said.push(next.value);
    }
    throw new Error(`chromium exited before its DevTools listened:\n${said.join("\n")}`);
  }

  /** Opens `url` in a new page and connects to it. */
  async open(url: string): Promise<PageSession> {
    const res = await fetch(`${this.endpoint}/json/new?${encodeURI(url)}`, { method: "PUT" });
    if (!res.ok) throw new Error(`DevTools: /json/new answered ${res.status}`);
    const target = await res.json() as { webSocketDebuggerUrl: string };
    return await PageSession.connect(target.webSocketDebuggerUrl);
  }

  /** Kills the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.child.status;
    await Deno.remove(this.profile, { recursive: true }).catch(() => {});
  }
}
