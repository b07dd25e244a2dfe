/**
 * The dashboard in a real browser: headless Chromium (Debian's, installed
 * when missing) loads the page a supervisor serves, sees the system running,
 * sees a SIGKILL of the machine process and the resume that follows (epoch
 * carried on), clicks "Take a checkpoint" and sees it committed, clicks
 * "Cut power" and sees the next resume, and saves a screenshot (a temp
 * folder, printed; and the path env DASHBOARD_SCREENSHOT names, if any).
 *
 * Every wait is bounded polling of what the page shows; nothing asserts on time.
 */

import assert from "node:assert/strict";
import { textLines } from "../../hw/text_lines.ts";
import { removeImage, TASK_RUN_ARGS, tempImage } from "../helpers.ts";
import { HeadlessChromium, type PageSession } from "./headless_chromium.ts";

const BOOT = new URL("../../tools/boot.ts", import.meta.url).pathname;
/** How long one wait for the page may poll before the test fails, saying what it waited for. */
const WAIT_LIMIT_MS = 90_000;
const POLL_MS = 100;

/** Polls `read` in the page until `ok` holds of its value; returns that value. */
async function waitForPage<T>(
  page: PageSession,
  what: string,
  read: string,
  ok: (v: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let last: T | null = null;
  while (Date.now() < deadline) {
    last = await page.evaluate<T | null>(read);
    if (last !== null && ok(last)) return last;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`the page never showed ${what}; last ${read} = ${JSON.stringify(last)}`);
}

/** What the page's header and counters say. */
interface Shown {
  phase: string;
  pid: number;
  epoch: number;
  crashes: number;
  resumes: number;
  done: number;
  components: string;
  log: string;
}

/** The page's {@link Shown}; null while the page is still loading. */
const SHOWN = `(() => {
  if (!document.getElementById("log")) return null;
  const t = (id) => document.getElementById(id).textContent;
  return { phase: document.getElementById("phase").dataset.phase, pid: Number(t("pid")),
    epoch: Number(t("epoch")), crashes: Number(t("crashes")), resumes: Number(t("resumes")),
    done: Number(t("ckpt-done")), components: t("components"), log: t("log") };
})()`;

/** Starts `deno task boot` with the dashboard on a free port; resolves with the page's URL. */
async function startSupervisor(image: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...TASK_RUN_ARGS,
      BOOT,
      "--image",
      image,
      "--fresh",
      "--apps",
      "counter",
      "--restart-on-crash",
      "--commands",
      "--power-button",
      "--dashboard-port",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = textLines(child.stdout);
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const m = /^\[boot\] dashboard on (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(next.value);
    if (m) {
      (async () => {
        for (let n = await lines.next(); !n.done; n = await lines.next()) { /* drain */ }
      })();
      return { child, url: m[1] };
    }
  }
  throw new Error("the supervisor exited before it said where the dashboard is");
}

Deno.test("dashboard in Chromium: shows the system, a SIGKILL and its resume, a checkpoint, a power cut", async () => {
  const image = tempImage("dashboard");
  const { child, url } = await startSupervisor(image);
  const browser = await HeadlessChromium.launch();
  try {
    const page = await browser.open(url);
    const up = await waitForPage<Shown>(
      page,
      "the machine running with the counter",
      SHOWN,
      (s) => s.phase === "running" && s.components.includes("counter") && s.epoch > 0,
    );
    assert.ok(up.pid > 0, `the page names the machine process: ${JSON.stringify(up)}`);

    Deno.kill(up.pid, "SIGKILL");
    const crashed = await waitForPage<Shown>(
      page,
      "the crash",
      SHOWN,
      (s) => s.crashes === 1 && s.log.includes(`machine process ${up.pid} died (SIGKILL)`),
    );
    const resumed = await waitForPage<Shown>(
      page,
      "the resume after the SIGKILL",
      SHOWN,
      (s) => s.phase === "running" && s.resumes === 1 && s.pid !== up.pid,
    );
    assert.ok(resumed.epoch >= up.epoch, `the epoch carried on: ${up.epoch} → ${resumed.epoch}`);
    assert.ok(crashed.log.includes("died (SIGKILL)"));
    assert.match(resumed.log, /resumed at epoch \d+/);

    await page.evaluate(`document.getElementById("btn-checkpoint").click()`);
    await waitForPage<Shown>(page, "the checkpoint asked for", SHOWN, (s) => s.done === 1);

    await page.evaluate(`document.getElementById("btn-power").click()`);
    const afterCut = await waitForPage<Shown>(
      page,
      "the resume after the power cut",
      SHOWN,
      (s) => s.phase === "running" && s.resumes === 2 && s.crashes === 2,
    );
    assert.ok(afterCut.epoch >= resumed.epoch);

    const png = await page.screenshot(1400, 1300);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG"); // "PNG"
    const dir = await Deno.makeTempDir({ prefix: "tardigrade-dashboard-shot-" });
    const shot = `${dir}/dashboard.png`;
    await Deno.writeFile(shot, png);
    console.log(`screenshot: ${shot}`);
    const wanted = Deno.env.get("DASHBOARD_SCREENSHOT");
    if (wanted) {
      await Deno.writeFile(wanted, png);
      console.log(`screenshot: ${wanted}`);
    }
    page.close();
  } finally {
    await browser.close();
    child.kill("SIGTERM");
    await child.status;
    removeImage(image);
  }
});
