/**
 * `deno task fs` (tools/fs.ts): its flags and exit codes, the refusal of
 * an image a running machine holds (nothing changed), and the commands
 * end to end on an image: put/get of a binary host file, listings, mkdir
 * -p and rm -r, a stdin script of 1,000 operations in one boot, errors.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import { splitWords } from "../../servers/apps/shell/session.ts";
import { FsToolExit, quoteWord, runFsTool } from "../../tools/fs.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../../tools/temp_image.ts";

const REPO = new URL("../../", import.meta.url).pathname;
/** `deno task fs` as deno.json says it, run directly (a kill then reaches the tool itself). */
const FS_TASK = (JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`)).tasks.fs as string).split(
  " ",
)
  .slice(1);

/** Longest a run of the tool may take in these tests before it counts as stalled. */
const TOOL_MS_MAX = 180_000;

/** Runs `deno task fs ARGS` as a user does; `stdin` is its script. */
async function fsTool(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...FS_TASK, ...args],
    cwd: REPO,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  // A stall (a reply that never comes) ends the tool, and the test with it, instead of hanging.
  const timer = setTimeout(() => child.kill("SIGKILL"), TOOL_MS_MAX);
  const out = await child.output().finally(() => clearTimeout(timer));
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The tool in this process, its output captured. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await runFsTool(args, {
    out: (t) => out += t,
    err: (t) => err += t,
    lines: async function* () {},
  });
  return { code, out, err };
}

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("fs --help prints the usage with every command and exit codes, exit 0", async () => {
  const r = await inProcess(["--help"]);
  assert.equal(r.code, FsToolExit.OK);
  for (
    const c of [
      "ls [-l] [PATH]",
      "mkdir [-p] PATH",
      "put HOST_FILE PATH",
      "get PATH HOST_FILE",
      "exit codes",
    ]
  ) {
    assert.ok(r.out.includes(c), c);
  }
});

Deno.test("fs without --image, with an unknown flag or a bad put is refused with exit 2", async () => {
  assert.equal((await inProcess(["ls"])).code, FsToolExit.USAGE);
  const bad = await inProcess(["--image", "/tmp/x.img", "--frobnicate"]);
  assert.equal(bad.code, FsToolExit.USAGE);
  assert.match(bad.err, /unknown flag --frobnicate/);
  const size = await inProcess(["--image", "/tmp/x.img", "--fs-mb", "8", "ls"]);
  assert.equal(size.code, FsToolExit.USAGE);
  assert.match(size.err, /--fs-mb sizes a new image: only with --fresh/);
  const put = await inProcess(["--image", "/tmp/x.img", "put", "/no/such/host/file", "/f"]);
  assert.equal(put.code, FsToolExit.USAGE);
  assert.match(put.err, /cannot read host file/);
});

Deno.test("fs on an image that does not exist, without --fresh, is refused with exit 2", async () => {
  const image = tempImage("fs-none");
  try {
    const r = await inProcess(["--image", image, "ls", "/"]);
    assert.equal(r.code, FsToolExit.USAGE);
    assert.match(r.err, /no image at .*--fresh formats/);
  } finally {
    removeImage(image);
  }
});

Deno.test("quoteWord: any word comes back from the shell's word splitting unchanged", () => {
  const words = ["plain", "a b", "it's", 'say "hi"', "back\\slash", "", "tab\there", "ünï"];
  assert.deepEqual(splitWords(words.map(quoteWord).join(" ")), words);
});

Deno.test("fs on an image a running machine holds is refused (exit 3, E_IMAGE_BUSY) and the image is unchanged", async () => {
  const image = tempImage("fs-busy");
  // Checkpoints off: once ready the machine writes nothing more, so any change would be the tool's.
  const m = MachineProcess.start(image, ["--fresh", "--checkpoint-ms", "0"]);
  try {
    await m.ready();
    const before = await sha256(image);
    for (const args of [["mkdir", "-p", "/a"], ["--fresh", "ls"], []]) {
      const r = await fsTool(["--image", image, ...args]);
      assert.equal(r.code, FsToolExit.BUSY, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /E_IMAGE_BUSY|in use by another machine/);
      assert.doesNotMatch(r.stderr, /did not start/, "refused before a machine was started");
    }
    assert.equal(await sha256(image), before, "the image is byte for byte as it was");
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("fs put then get (two boots) round-trips a binary host file byte for byte", async () => {
  const image = tempImage("fs-put");
  const dir = Deno.makeTempDirSync();
  try {
    const data = crypto.getRandomValues(new Uint8Array(65536));
    const big = new Uint8Array(700_000);
    for (let i = 0; i < big.length; i += 65536) big.set(data.subarray(0, big.length - i), i);
    Deno.writeFileSync(`${dir}/in.bin`, big);
    const put = await fsTool(["--image", image, "--fresh", "put", `${dir}/in.bin`, "/in.bin"]);
    assert.equal(put.code, 0, put.stderr);
    const get = await fsTool(["--image", image, "get", "/in.bin", `${dir}/out.bin`]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(Deno.readFileSync(`${dir}/out.bin`), big);
  } finally {
    removeImage(image);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fs mkdir -p, ls -l, stat, tree, rm -r and errors on an image (a script in one boot)", async () => {
  const image = tempImage("fs-tree");
  try {
    const r = await fsTool(
      ["--image", image, "--fresh"],
      [
        "mkdir -p /a/b/c",
        "write /a/b/f hello",
        "ls -l /a/b",
        "stat /a/b/f",
        "tree /a",
        "rm -r /a",
        "sync",
        "ls /",
      ].join("\n") + "\n",
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(lines[0], /^drwxr-xr-x +2 +\d+ .* c$/);
    assert.match(lines[1], /^-rw-r--r-- +1 +6 .* f$/);
    assert.ok(lines.includes("kind: file") && lines.includes("size: 6"));
    assert.ok(r.stdout.includes("/a\n└── b\n    ├── c\n    └── f\n2 directories, 1 file\n"));
    const err = await fsTool(["--image", image, "cat", "/a/b/f"]);
    assert.equal(err.code, FsToolExit.FAILED);
    assert.match(err.stderr, /^error ENOENT: /m);
  } finally {
    removeImage(image);
  }
});

Deno.test("fs runs a stdin script of 1,000 operations in one boot", async () => {
  const image = tempImage("fs-script");
  try {
    const ops: string[] = ["mkdir -p /s"];
    for (let i = 0; ops.length < 1000; i++) {
      ops.push(`write /s/f${i} line ${i}`, `stat /s/f${i}`, `mv /s/f${i} /s/g${i}`);
    }
    ops.length = 1000;
    const t0 = performance.now();
    const r = await fsTool(["--image", image, "--fresh"], ops.join("\n") + "\n");
    const ms = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    console.log(`1,000 operations in one boot: ${ms.toFixed(0)} ms with the boot and stop`);
    const ls = await fsTool(["--image", image, "ls", "/s"]);
    const names = ls.stdout.trim().split("\n");
    assert.equal(names.length, 333);
    assert.ok(names.every((n) => /^g\d+$/.test(n)), "every file was written, then moved");
  } finally {
    removeImage(image);
  }
});

Deno.test("fs --timeout: a tiny timeout on a large script kills the machine and exits 4, saying what timed out", async () => {
  const image = tempImage("fs-timeout");
  try {
    const script = Array.from({ length: 3000 }, (_, i) => `write /f${i} x`).join("\n") + "\n";
    const r = await fsTool(["--image", image, "--fresh", "--timeout", "0.001"], script);
    assert.equal(r.code, FsToolExit.TIMEOUT, r.stderr);
    assert.match(r.stderr, /not all answered within 0\.001 s \(--timeout\)/);
    const bad = await inProcess(["--image", image, "--timeout", "soon"]);
    assert.equal(bad.code, FsToolExit.USAGE);
  } finally {
    removeImage(image);
  }
});
