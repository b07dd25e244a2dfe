/**
 * The host side of the file-system differential test (tools/fs_host.ts):
 * no path or symlink reaches outside its root, absolute symlink targets
 * read back as the contract gave them, Deno's errors come back by their
 * POSIX names, pread/pwrite leave the descriptor's offset where it was, and
 * Linux's answers where the host's own would be its file system's.
 *
 * Run: `deno test --allow-read --allow-write tests/tools/fs_host_test.ts`.
 */

import assert from "node:assert/strict";
import { HostFsApi } from "../../tools/fs_host.ts";
import { FsError, OPEN_FILES_MAX, OpenFlag, Whence } from "../../servers/fs/vfs.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** The POSIX name `p` rejects with. */
async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return FsError.from(e)?.errnoName ?? `not an FsError: ${e}`;
  }
  return "no error";
}

Deno.test("HostFsApi: '..' at the root and symlinks going up stay under the root", async () => {
  const outer = Deno.makeTempDirSync({ prefix: "tardigrade-fs-host-outer-" });
  Deno.mkdirSync(`${outer}/root`);
  const host = new HostFsApi(`${outer}/root`);
  try {
    const C = OpenFlag.CREAT | OpenFlag.WRONLY;
    await host.close(await host.open("/../../up", C, 0o644));
    await host.symlink("../../../../far", "/l");
    await host.close(await host.open("/l", C, 0o644));
    await host.symlink("/..", "/abs");
    await host.mkdir("/abs/dir", 0o755);
    // Beside the root only its own directory of hidden links (empty: no descriptor is open).
    const beside = [...Deno.readDirSync(outer)].map((e) => e.name).sort();
    assert.deepEqual(beside, ["root", "root.fds"]);
    assert.deepEqual([...Deno.readDirSync(`${outer}/root.fds`)], []);
    const names = (await host.readdir("/")).map((e) => e.name).sort();
    assert.deepEqual(names, ["abs", "dir", "far", "l", "up"]);
    assert.equal(await host.readlink("/abs"), "/..");
    assert.equal((await host.lstat("/abs")).size, 3);
  } finally {
    Deno.removeSync(outer, { recursive: true });
  }
});

Deno.test("HostFsApi: the host's errors come back by their POSIX names", async () => {
  const host = new HostFsApi();
  try {
    await host.mkdir("/d", 0o755);
    await host.close(await host.open("/d/f", OpenFlag.CREAT | OpenFlag.WRONLY, 0o644));
    assert.equal(await errno(host.rmdir("/d")), "ENOTEMPTY");
    assert.equal(await errno(host.unlink("/d")), "EISDIR");
    assert.equal(await errno(host.rmdir("/d/f")), "ENOTDIR");
    assert.equal(await errno(host.mkdir("/d", 0o755)), "EEXIST");
    assert.equal(await errno(host.open("/d/f/x", OpenFlag.RDONLY)), "ENOTDIR");
    assert.equal(await errno(host.open("/nope/x", OpenFlag.CREAT | OpenFlag.WRONLY)), "ENOENT");
    assert.equal(await errno(host.open("/d", OpenFlag.WRONLY)), "EISDIR");
    await host.symlink("/loop2", "/loop1");
    await host.symlink("/loop1", "/loop2");
    assert.equal(await errno(host.stat("/loop1")), "ELOOP");
    assert.equal(await errno(host.close(7)), "EBADF");
    assert.equal(await errno(host.stat(`/${"x".repeat(256)}`)), "ENAMETOOLONG");
    assert.equal(await errno(host.stat("d")), "EINVAL");
    assert.equal(await errno(host.link("/d", "/d2")), "EPERM");
    assert.equal(await errno(host.rename("/d", "/d/sub")), "EINVAL");
  } finally {
    host.dispose();
  }
});

Deno.test("HostFsApi: pread and pwrite leave the offset; descriptors are the lowest free, EMFILE past the limit", async () => {
  const host = new HostFsApi();
  try {
    const fd = await host.open("/f", OpenFlag.CREAT | OpenFlag.RDWR, 0o644);
    assert.equal(fd, 0);
    await host.write(fd, text("hello"));
    assert.equal(await host.pwrite(fd, 10, text("xy")), 2);
    assert.deepEqual(await host.pread(fd, 0, 3), text("hel"));
    assert.equal(await host.seek(fd, 0, Whence.CUR), 5);
    assert.deepEqual(await host.pread(fd, 5, 7), new Uint8Array([0, 0, 0, 0, 0, 120, 121]));
    const fd2 = await host.open("/f", OpenFlag.RDONLY);
    await host.close(fd);
    assert.equal(await host.open("/f", OpenFlag.RDONLY), 0);
    assert.equal(fd2, 1);
    assert.equal((await host.stat("/f")).size, 12);
    // The contract's OPEN_FILES_MAX, before the lookup (Linux takes a descriptor first).
    while ((await host.open("/f", OpenFlag.RDONLY)) < OPEN_FILES_MAX - 1);
    assert.equal(await errno(host.open("/f", OpenFlag.RDONLY)), "EMFILE");
    assert.equal(await errno(host.open("/nope", OpenFlag.RDONLY)), "EMFILE");
  } finally {
    host.dispose();
  }
});

Deno.test("HostFsApi: a seek from the end of a directory is EINVAL on any host file system", async () => {
  // Linux leaves it to the file system: tmpfs says EINVAL, ext4 its hash end (2^63 - 1).
  for (const dir of [undefined, "/dev/shm"]) {
    let root: string | undefined;
    try {
      root = dir && Deno.makeTempDirSync({ dir, prefix: "tardigrade-fs-host-" });
    } catch {
      continue; // no /dev/shm here, or no access to it
    }
    const host = new HostFsApi(root);
    try {
      await host.mkdir("/d", 0o755);
      const fd = await host.open("/d", OpenFlag.RDONLY | OpenFlag.DIRECTORY);
      assert.equal(await errno(host.seek(fd, 0, Whence.END)), "EINVAL", host.root);
      assert.equal(await errno(host.seek(fd, -1, Whence.END)), "EINVAL", host.root);
      assert.equal(await host.seek(fd, 0, Whence.SET), 0);
    } finally {
      host.dispose();
    }
  }
});

Deno.test("HostFsApi: '..', '.' and trailing slashes resolve as Linux's lookup, not lexically", async () => {
  // Each expectation is what Linux 6.x answers to the same call (checked with raw system calls).
  const host = new HostFsApi();
  try {
    await host.mkdir("/d", 0o755);
    await host.close(await host.open("/f", OpenFlag.CREAT | OpenFlag.WRONLY, 0o644));
    await host.symlink("d", "/l");
    await host.symlink("f", "/lf");
    await host.symlink("/nowhere/", "/dangling");
    await host.symlink("d/new/", "/toslash");
    await host.symlink("f/", "/tofile");
    await host.symlink("nodir/x", "/deep");
    await host.symlink("self/", "/self");
    await host.symlink("n".repeat(256), "/toolong"); // a name over NAME_MAX in its target
    const W = OpenFlag.CREAT | OpenFlag.WRONLY;
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ["mkdir /x/../y", () => host.mkdir("/x/../y", 0o755), "ENOENT"],
      ["stat /f/", () => host.stat("/f/"), "ENOTDIR"],
      ["stat /f/.", () => host.stat("/f/."), "ENOTDIR"],
      ["rmdir /l/", () => host.rmdir("/l/"), "ENOTDIR"],
      ["unlink /f/", () => host.unlink("/f/"), "ENOTDIR"],
      ["unlink /l/", () => host.unlink("/l/"), "ENOTDIR"],
      ["unlink /d/.", () => host.unlink("/d/."), "EISDIR"],
      ["mkdir /f/", () => host.mkdir("/f/", 0o755), "EEXIST"],
      ["open /new/ O_CREAT", () => host.open("/new/", W), "EISDIR"],
      ["rename /f /g/", () => host.rename("/f", "/g/"), "ENOTDIR"],
      ["rename /lf/ /g", () => host.rename("/lf/", "/g"), "ENOTDIR"],
      ["symlink f /x/", () => host.symlink("f", "/x/"), "ENOENT"],
      ["link /f /x/", () => host.link("/f", "/x/"), "ENOENT"],
      ["link /f /d/.", () => host.link("/f", "/d/."), "EEXIST"],
      [
        "link /d /x/ (a directory to a new name and a slash)",
        () => host.link("/d", "/x/"),
        "ENOENT",
      ],
      ["link /d /f/", () => host.link("/d", "/f/"), "EEXIST"],
      ["link /d/ /x", () => host.link("/d/", "/x"), "EPERM"],
      ["rename /d/. /e", () => host.rename("/d/.", "/e"), "EBUSY"],
      ["open /d O_TRUNC", () => host.open("/d", OpenFlag.RDONLY | OpenFlag.TRUNC), "EISDIR"],
      ["readlink /l/", () => host.readlink("/l/"), "EINVAL"],
      ["rmdir /d/..", () => host.rmdir("/d/.."), "ENOTEMPTY"],
      ["rmdir /d/.", () => host.rmdir("/d/."), "EINVAL"],
      ["open /lf O_NOFOLLOW", () => host.open("/lf", OpenFlag.RDONLY | OpenFlag.NOFOLLOW), "ELOOP"],
      ["open /d O_CREAT", () => host.open("/d", OpenFlag.RDONLY | OpenFlag.CREAT), "EISDIR"],
      ["mkdir /dangling/", () => host.mkdir("/dangling/", 0o755), "EEXIST"],
      ["open /f/ O_CREAT|O_EXCL", () => host.open("/f/", W | OpenFlag.EXCL), "EISDIR"],
      ["open /deep/ O_CREAT (not followed)", () => host.open("/deep/", W), "EISDIR"],
      ["open /missing/x/ O_CREAT", () => host.open("/missing/x/", W), "ENOENT"],
      ["open O_CREAT /self -> self/", () => host.open("/self", W), "EISDIR"],
      ["open /self -> self/", () => host.open("/self", OpenFlag.WRONLY), "ELOOP"],
      ["mkdir /toolong/l", () => host.mkdir("/toolong/l", 0o700), "ENAMETOOLONG"],
      ["stat /toolong", () => host.stat("/toolong"), "ENAMETOOLONG"],
      ["open O_CREAT /toslash -> d/new/", () => host.open("/toslash", W), "EISDIR"],
      ["stat /tofile -> f/", () => host.stat("/tofile"), "ENOTDIR"],
    ];
    for (const [what, f, want] of cases) assert.equal(await errno(f()), want, what);
    assert.equal((await host.lstat("/l/")).kind, "dir");
    await host.link("/dangling", "/hard"); // link(2) links a symlink itself
    assert.equal((await host.lstat("/hard")).kind, "symlink");
    assert.equal((await host.lstat("/dangling")).nlink, 2);
    await host.rename("/d", "/e/");
    assert.equal((await host.stat("/e/")).kind, "dir");
  } finally {
    host.dispose();
  }
});

Deno.test("HostFsApi: a descriptor's stat holds after a directory on its path becomes a file", async () => {
  const host = new HostFsApi();
  try {
    await host.mkdir("/d", 0o755);
    const fd = await host.open("/d/f", OpenFlag.CREAT | OpenFlag.RDWR, 0o644);
    await host.write(fd, text("hello"));
    await host.rename("/d", "/e");
    await host.close(await host.open("/d", OpenFlag.CREAT | OpenFlag.WRONLY, 0o644));
    await host.unlink("/e/f");
    const s = await host.fstat(fd);
    assert.deepEqual([s.kind, s.size, s.nlink], ["file", 5, 0]);
    assert.deepEqual(await host.pread(fd, 1, 10), text("ello"));
    await host.link("/d", "/d2");
    assert.equal((await host.stat("/d")).nlink, 2);
  } finally {
    host.dispose();
  }
});
