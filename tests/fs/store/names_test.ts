/**
 * The file system's names and descriptors (servers/fs/store/): each
 * operation does what POSIX (as Linux) does, and each refusal has its
 * POSIX name and changes nothing: paths, open flags, descriptors, hard
 * links and link counts, symlinks, rename.
 *
 * Run: `deno test tests/fs/store/names_test.ts`.
 */

import assert from "node:assert/strict";
import {
  FsErrno,
  FsError,
  NAME_BYTES_MAX,
  OPEN_FILES_MAX,
  OpenFlag,
  PATH_BYTES_MAX,
  SYMLINK_FOLLOW_MAX,
  Whence,
} from "../../../servers/fs/vfs.ts";
import { bytes, errnoOf, fresh, get, names, put, text } from "./fixture.ts";

const { RDONLY, WRONLY, RDWR, CREAT, EXCL, TRUNC, APPEND, DIRECTORY, NOFOLLOW } = OpenFlag;

Deno.test("paths: ., .., .. of the root, repeated and trailing slashes resolve as POSIX says", () => {
  const { fs } = fresh();
  fs.mkdir("/a", 0o755);
  fs.mkdir("/a/b", 0o755);
  put(fs, "/a/b/f", "x");
  assert.equal(get(fs, "/a/./b/../b//f"), "x");
  assert.equal(get(fs, "/../../a/b/f"), "x");
  assert.equal(fs.stat("/..").ino, fs.stat("/").ino);
  assert.equal(fs.stat("/a/b/").ino, fs.stat("/a/b").ino);
  assert.equal(fs.stat("/a/b/..").ino, fs.stat("/a").ino);
  assert.equal(errnoOf(() => fs.stat("/a/b/f/")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.stat("/a/b/f/g")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.stat("/a/zz/f")), "ENOENT");
  assert.equal(errnoOf(() => fs.stat("")), "ENOENT");
  assert.equal(errnoOf(() => fs.stat("a/b")), "EINVAL");
  assert.equal(errnoOf(() => fs.stat("/a\0b")), "EINVAL");
  assert.equal(errnoOf(() => fs.stat("/" + "n".repeat(NAME_BYTES_MAX + 1))), "ENAMETOOLONG");
  assert.equal(errnoOf(() => fs.stat("/" + "é".repeat(128))), "ENAMETOOLONG"); // 256 bytes
  assert.equal(errnoOf(() => fs.stat("/" + "n".repeat(NAME_BYTES_MAX))), "ENOENT");
  assert.equal(errnoOf(() => fs.stat("/a".repeat(PATH_BYTES_MAX / 2 + 1))), "ENAMETOOLONG");
});

Deno.test("open: O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW and the access modes", () => {
  const { fs } = fresh();
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", RDONLY)), "ENOENT");
  const fd = fs.open(1, 1, "/f", CREAT | RDWR, 0o640);
  assert.equal(fd, 0);
  assert.equal(fs.stat("/f").mode, 0o640);
  assert.equal(fs.write(1, fd, bytes("hello")), 5);
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", CREAT | EXCL | WRONLY)), "EEXIST");
  assert.equal(errnoOf(() => fs.open(1, 1, "/f/", RDONLY)), "ENOTDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", DIRECTORY)), "ENOTDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/new/", CREAT | WRONLY)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/", WRONLY)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/", RDWR)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", 3)), "EINVAL");
  const ro = fs.open(1, 1, "/f", RDONLY);
  assert.equal(errnoOf(() => fs.write(1, ro, bytes("x"))), "EBADF");
  assert.equal(errnoOf(() => fs.pwrite(1, ro, 0, bytes("x"))), "EBADF");
  assert.equal(errnoOf(() => fs.ftruncate(1, ro, 0)), "EINVAL");
  const wo = fs.open(1, 1, "/f", WRONLY | APPEND);
  assert.equal(errnoOf(() => fs.read(1, wo, 1)), "EBADF");
  assert.equal(errnoOf(() => fs.pread(1, wo, 0, 1)), "EBADF");
  fs.write(1, wo, bytes(" world"));
  fs.pwrite(1, wo, 0, bytes("!")); // O_APPEND: at the end, as Linux does
  assert.equal(get(fs, "/f"), "hello world!");
  const dirFd = fs.open(1, 1, "/", RDONLY | DIRECTORY);
  assert.equal(errnoOf(() => fs.read(1, dirFd, 1)), "EISDIR");
  const t = fs.open(1, 1, "/f", WRONLY | TRUNC);
  assert.equal(fs.stat("/f").size, 0);
  assert.equal(fs.stat("/f").blocks, 0);
  fs.chmod("/f", 0o444);
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", RDONLY | TRUNC)), "EACCES");
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", WRONLY)), "EACCES");
  fs.chmod("/f", 0o200);
  assert.equal(errnoOf(() => fs.open(1, 1, "/f", RDONLY)), "EACCES");
  fs.symlink("/f", "/l");
  assert.equal(errnoOf(() => fs.open(1, 1, "/l", WRONLY | NOFOLLOW)), "ELOOP");
  for (const d of [fd, ro, wo, dirFd, t]) fs.close(1, d);
});

Deno.test("descriptors: lowest free first, per owner, EMFILE past the limit, EBADF when closed or foreign", () => {
  const { fs } = fresh();
  put(fs, "/f", "abcdef");
  fs.closeAll(1); // put's owner keeps its table until then
  const heapBytes = fs.space().metadataBytes;
  const a = fs.open(1, 1, "/f", RDONLY);
  const b = fs.open(1, 1, "/f", RDONLY);
  assert.deepEqual([a, b], [0, 1]);
  assert.equal(fs.open(2, 2, "/f", RDONLY), 0); // another owner starts at 0 too
  fs.close(1, a);
  assert.equal(fs.open(1, 1, "/f", RDONLY), 0);
  assert.equal(errnoOf(() => fs.close(1, 7)), "EBADF");
  assert.equal(errnoOf(() => fs.read(3, 0, 1)), "EBADF");
  assert.equal(errnoOf(() => fs.fstat(1, -1)), "EBADF");
  assert.equal(errnoOf(() => fs.fsync(1, 1.5)), "EBADF");
  fs.fsync(1, b);
  assert.equal(fs.closeAll(1), 2);
  assert.equal(errnoOf(() => fs.close(1, 0)), "EBADF");
  for (let i = 0; i < OPEN_FILES_MAX; i++) assert.equal(fs.open(5, 5, "/f", RDONLY), i);
  assert.equal(errnoOf(() => fs.open(5, 5, "/f", RDONLY)), "EMFILE");
  assert.equal(errnoOf(() => fs.open(5, 5, "/g", CREAT | WRONLY)), "EMFILE");
  assert.equal(errnoOf(() => fs.stat("/g")), "ENOENT"); // the refused create changed nothing
  assert.equal(errnoOf(() => fs.open(5, 5, "/nope", RDONLY)), "EMFILE"); // before the lookup
  assert.equal(fs.closeAll(5), OPEN_FILES_MAX);
  assert.equal(fs.closeAll(2), 1);
  assert.equal(fs.space().metadataBytes, heapBytes, "closeAll gives each owner's table back");
});

Deno.test("read, write, seek and pread keep offsets as POSIX does; negatives are EINVAL", () => {
  const { fs } = fresh();
  const fd = fs.open(1, 1, "/f", CREAT | RDWR);
  fs.write(1, fd, bytes("0123456789"));
  assert.equal(fs.seek(1, fd, 2, Whence.SET), 2);
  assert.equal(text(fs.read(1, fd, 3)), "234");
  assert.equal(fs.seek(1, fd, 1, Whence.CUR), 6);
  assert.equal(fs.seek(1, fd, -1, Whence.END), 9);
  assert.equal(text(fs.read(1, fd, 100)), "9");
  assert.equal(fs.read(1, fd, 100).length, 0);
  assert.equal(text(fs.pread(1, fd, 1, 2)), "12");
  assert.equal(fs.seek(1, fd, 0, Whence.CUR), 10); // pread left it
  assert.equal(errnoOf(() => fs.seek(1, fd, -11, Whence.END)), "EINVAL");
  assert.equal(errnoOf(() => fs.pread(1, fd, -1, 1)), "EINVAL");
  assert.equal(errnoOf(() => fs.read(1, fd, -1)), "EINVAL");
  assert.equal(errnoOf(() => fs.pwrite(1, fd, -1, bytes("x"))), "EINVAL");
  assert.equal(errnoOf(() => fs.ftruncate(1, fd, -1)), "EINVAL");
  assert.equal(errnoOf(() => fs.seek(1, fd, 0, 7 as Whence)), "EINVAL");
  fs.seek(1, fd, 20, Whence.SET);
  fs.write(1, fd, bytes("z")); // a hole from 10 to 20
  assert.deepEqual([...fs.pread(1, fd, 9, 12)], [57, ...new Array(10).fill(0), 122]);
});

Deno.test("mkdir, rmdir, unlink: their refusals by name, and directory link counts", () => {
  const { fs } = fresh();
  fs.mkdir("/d", 0o755);
  assert.equal(fs.stat("/").nlink, 3);
  assert.equal(errnoOf(() => fs.mkdir("/d", 0o755)), "EEXIST");
  assert.equal(errnoOf(() => fs.mkdir("/", 0o755)), "EEXIST");
  assert.equal(errnoOf(() => fs.mkdir("/x/y", 0o755)), "ENOENT");
  fs.mkdir("/d/e/", 0o700);
  assert.equal(fs.stat("/d").nlink, 3);
  assert.equal(fs.stat("/d").size, 1);
  put(fs, "/d/f", "x");
  assert.equal(errnoOf(() => fs.rmdir("/d")), "ENOTEMPTY");
  assert.equal(errnoOf(() => fs.rmdir("/d/f")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.unlink("/d/e")), "EISDIR");
  assert.equal(errnoOf(() => fs.rmdir("/")), "EBUSY");
  assert.equal(errnoOf(() => fs.rmdir("/d/.")), "EINVAL");
  assert.equal(errnoOf(() => fs.rmdir("/d/e/..")), "ENOTEMPTY");
  assert.equal(errnoOf(() => fs.unlink("/nope")), "ENOENT");
  assert.equal(errnoOf(() => fs.rmdir("/nope")), "ENOENT");
  fs.chmod("/d", 0o500);
  assert.equal(errnoOf(() => fs.unlink("/d/f")), "EACCES");
  assert.equal(errnoOf(() => fs.mkdir("/d/g", 0o755)), "EACCES");
  fs.chmod("/d", 0o600);
  assert.equal(errnoOf(() => fs.stat("/d/f")), "EACCES");
  fs.chmod("/d", 0o755);
  fs.unlink("/d/f");
  fs.rmdir("/d/e");
  assert.equal(fs.stat("/d").nlink, 2);
  fs.rmdir("/d");
  assert.equal(fs.stat("/").nlink, 2);
  assert.deepEqual(names(fs, "/"), []);
  assert.equal(fs.space().inodes, 1);
});

Deno.test("hard links share an inode and count their names; a directory cannot be linked", () => {
  const { fs } = fresh();
  put(fs, "/a", "data");
  fs.mkdir("/d", 0o755);
  fs.link("/a", "/d/b");
  assert.equal(fs.stat("/a").ino, fs.stat("/d/b").ino);
  assert.equal(fs.stat("/a").nlink, 2);
  assert.equal(errnoOf(() => fs.link("/d", "/e")), "EPERM");
  assert.equal(errnoOf(() => fs.link("/a", "/d/b")), "EEXIST");
  assert.equal(errnoOf(() => fs.link("/zz", "/c")), "ENOENT");
  fs.unlink("/a");
  assert.equal(fs.stat("/d/b").nlink, 1);
  assert.equal(get(fs, "/d/b"), "data");
});

Deno.test("an unlinked open file stays readable and is freed at its last close", () => {
  const { fs } = fresh();
  put(fs, "/a", "x".repeat(10_000));
  const before = fs.space();
  const fd = fs.open(1, 1, "/a", RDONLY);
  fs.unlink("/a");
  assert.equal(errnoOf(() => fs.stat("/a")), "ENOENT");
  assert.equal(fs.fstat(1, fd).nlink, 0);
  assert.equal(fs.read(1, fd, 20_000).length, 10_000);
  assert.equal(fs.space().freeBlocks, before.freeBlocks); // still held
  fs.close(1, fd);
  assert.equal(fs.space().freeBlocks, before.freeBlocks + 3);
  assert.equal(fs.space().inodes, before.inodes - 1);
});

Deno.test("symlinks: relative and absolute targets, dangling ones, loops are ELOOP", () => {
  const { fs } = fresh();
  fs.mkdir("/d", 0o755);
  put(fs, "/d/f", "in d");
  fs.symlink("f", "/d/rel"); // from the link's directory
  fs.symlink("/d/f", "/abs");
  fs.symlink("d", "/dl");
  assert.equal(get(fs, "/d/rel"), "in d");
  assert.equal(get(fs, "/abs"), "in d");
  assert.equal(get(fs, "/dl/rel"), "in d");
  assert.equal(fs.lstat("/abs").kind, "symlink");
  assert.equal(fs.lstat("/abs").size, 4);
  assert.equal(fs.stat("/abs").kind, "file");
  assert.equal(fs.readlink("/d/rel"), "f");
  assert.equal(errnoOf(() => fs.readlink("/d/f")), "EINVAL");
  fs.symlink("/nowhere", "/dangling");
  assert.equal(errnoOf(() => fs.stat("/dangling")), "ENOENT");
  assert.equal(fs.lstat("/dangling").kind, "symlink");
  assert.equal(errnoOf(() => fs.open(1, 1, "/dangling", CREAT | EXCL | WRONLY)), "EEXIST");
  fs.close(1, fs.open(1, 1, "/dangling", CREAT | WRONLY)); // creates the target
  assert.equal(fs.stat("/nowhere").kind, "file");
  fs.symlink("/loop2", "/loop1");
  fs.symlink("/loop1", "/loop2");
  assert.equal(errnoOf(() => fs.stat("/loop1")), "ELOOP");
  assert.equal(errnoOf(() => fs.open(1, 1, "/loop1/x", RDONLY)), "ELOOP");
  let prev = "/d/f";
  for (let i = 0; i < SYMLINK_FOLLOW_MAX; i++) {
    fs.symlink(prev, `/c${i}`);
    prev = `/c${i}`;
  }
  assert.equal(get(fs, prev), "in d"); // exactly the limit
  fs.symlink(prev, "/over");
  assert.equal(errnoOf(() => fs.stat("/over")), "ELOOP");
  assert.equal(errnoOf(() => fs.symlink("x", "/abs")), "EEXIST");
  assert.equal(errnoOf(() => fs.symlink("a\0b", "/n")), "EINVAL");
  assert.equal(errnoOf(() => fs.symlink("", "/n")), "ENOENT");
  fs.unlink("/dl"); // the link, not the directory
  assert.equal(fs.stat("/d").kind, "dir");
});

Deno.test("a final / follows a symlink to look, never to remove or rename it", () => {
  const { fs } = fresh();
  fs.mkdir("/d", 0o755);
  put(fs, "/f", "x");
  fs.symlink("d", "/dl");
  assert.equal(fs.stat("/dl/").kind, "dir");
  assert.equal(fs.lstat("/dl/").kind, "dir");
  assert.equal(fs.lstat("/dl").kind, "symlink");
  assert.equal(errnoOf(() => fs.rmdir("/dl/")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.unlink("/dl/")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.rename("/dl/", "/x")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.unlink("/f/")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.mkdir("/f/", 0o755)), "EEXIST");
  assert.equal(errnoOf(() => fs.mkdir("/dl", 0o755)), "EEXIST");
  assert.deepEqual(names(fs, "/"), ["d", "dl", "f"]);
  assert.equal(fs.stat("/d").kind, "dir");
});

Deno.test("Linux's order of refusals: O_CREAT before a slash, a target's slash, link's EPERM last, rename's subtrees", () => {
  const { fs } = fresh();
  fs.mkdir("/A", 0o755);
  fs.mkdir("/A/B", 0o755);
  put(fs, "/A/B/x", "");
  put(fs, "/f", "x");
  assert.equal(errnoOf(() => fs.open(1, 1, "/f/", CREAT | WRONLY)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/A/", CREAT | RDONLY)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/A", RDONLY | TRUNC)), "EISDIR");
  fs.symlink("f/", "/lf");
  fs.symlink("new/", "/ln");
  assert.equal(errnoOf(() => fs.stat("/lf")), "ENOTDIR");
  assert.equal(fs.lstat("/lf").kind, "symlink");
  assert.equal(errnoOf(() => fs.open(1, 1, "/ln", CREAT | WRONLY)), "EISDIR");
  assert.equal(errnoOf(() => fs.stat("/new")), "ENOENT");
  assert.equal(errnoOf(() => fs.link("/A", "/f")), "EEXIST");
  assert.equal(errnoOf(() => fs.link("/A", "/zz/new")), "ENOENT");
  assert.equal(errnoOf(() => fs.link("/A", "/new")), "EPERM");
  assert.equal(errnoOf(() => fs.rename("/A/B/x", "/A")), "ENOTEMPTY"); // onto its own ancestor
  assert.equal(errnoOf(() => fs.rename("/A/B", "/A")), "ENOTEMPTY");
  assert.equal(errnoOf(() => fs.rename("/A", "/A/B")), "EINVAL"); // into its own subtree
  assert.equal(errnoOf(() => fs.rename("/A", "/A/B/x")), "EINVAL");
  assert.equal(errnoOf(() => fs.rename("/", "/nope/x")), "ENOENT"); // the walk first
  assert.equal(errnoOf(() => fs.rename("/nope", "/A/.")), "EBUSY");
  assert.equal(errnoOf(() => fs.rename("/nope", "/f/")), "ENOENT"); // the source before the slash
  assert.equal(errnoOf(() => fs.rename("/f/", "/g")), "ENOTDIR");
  const d = fs.open(1, 1, "/A", RDONLY);
  assert.equal(errnoOf(() => fs.seek(1, d, 0, Whence.END)), "EINVAL");
  assert.equal(fs.seek(1, d, 0, Whence.SET), 0);
  fs.close(1, d);
});

Deno.test("a final / on a symlink: O_CREAT is EISDIR without following it, link's source follows it", () => {
  // Each expectation is what Linux 6.x answers to open(2) and linkat(2) on the same tree.
  const { fs } = fresh();
  fs.mkdir("/e", 0o755);
  put(fs, "/r", "x");
  fs.symlink("e/f", "/e/l"); // its target's directory is missing
  fs.symlink("self/", "/self");
  fs.symlink("loop", "/loop");
  fs.symlink("r", "/lr");
  assert.equal(errnoOf(() => fs.open(1, 1, "/e/l/", CREAT | RDWR)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/e/l/", CREAT | RDWR | NOFOLLOW)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/loop/", CREAT | RDWR)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/self", CREAT | RDWR)), "EISDIR");
  assert.equal(errnoOf(() => fs.open(1, 1, "/self", RDWR)), "ELOOP");
  assert.equal(errnoOf(() => fs.open(1, 1, "/e/l/x/", CREAT | RDWR)), "ENOENT");
  assert.equal(errnoOf(() => fs.link("/loop/", "/e/g")), "ELOOP");
  assert.equal(errnoOf(() => fs.link("/lr/", "/e/g")), "ENOTDIR");
  fs.link("/loop", "/e/g"); // without the slash the symlink itself
  assert.equal(fs.lstat("/e/g").kind, "symlink");
});

Deno.test("rename: replacing, across directories, and each refusal", () => {
  const { fs } = fresh();
  fs.mkdir("/a", 0o755);
  fs.mkdir("/b", 0o755);
  put(fs, "/a/f", "one");
  put(fs, "/b/g", "two");
  fs.rename("/a/f", "/b/g"); // replaces
  assert.equal(get(fs, "/b/g"), "one");
  assert.deepEqual(names(fs, "/a"), []);
  assert.equal(fs.space().inodes, 4);
  fs.link("/b/g", "/b/h");
  fs.rename("/b/g", "/b/h"); // the same inode: nothing happens
  assert.deepEqual(names(fs, "/b"), ["g", "h"]);
  fs.mkdir("/a/sub", 0o755);
  fs.rename("/a/sub", "/b/sub");
  assert.deepEqual([fs.stat("/a").nlink, fs.stat("/b").nlink], [2, 3]);
  assert.equal(fs.stat("/b/sub/..").ino, fs.stat("/b").ino);
  fs.mkdir("/a/empty", 0o755);
  fs.rename("/b/sub", "/a/empty"); // a directory over an empty one
  assert.deepEqual([fs.stat("/a").nlink, fs.stat("/b").nlink], [3, 2]);
  put(fs, "/a/empty/x", "");
  fs.mkdir("/b/d2", 0o755);
  assert.equal(errnoOf(() => fs.rename("/b/d2", "/a/empty")), "ENOTEMPTY");
  assert.equal(errnoOf(() => fs.rename("/b/d2", "/b/g")), "ENOTDIR");
  assert.equal(errnoOf(() => fs.rename("/b/g", "/b/d2")), "EISDIR");
  assert.equal(errnoOf(() => fs.rename("/a", "/a/empty/in")), "EINVAL");
  assert.equal(errnoOf(() => fs.rename("/a", "/a/x")), "EINVAL");
  assert.equal(errnoOf(() => fs.rename("/", "/z")), "EBUSY");
  assert.equal(errnoOf(() => fs.rename("/a", "/")), "EBUSY");
  assert.equal(errnoOf(() => fs.rename("/nope", "/z")), "ENOENT");
  assert.equal(errnoOf(() => fs.rename("/b/g", "/b/z/")), "ENOTDIR");
  fs.rename("/a", "/b/d2"); // a directory over an empty one in another parent
  assert.deepEqual(names(fs, "/"), ["b"]);
  assert.equal(get(fs, "/b/d2/empty/x"), "");
  assert.equal(fs.stat("/").nlink, 3);
  fs.check();
});

Deno.test("truncate and ftruncate: holes read as zeros, EISDIR, EFBIG, EINVAL", () => {
  const { fs } = fresh();
  put(fs, "/f", "abcdef");
  fs.truncate("/f", 3);
  fs.truncate("/f", 8);
  assert.deepEqual([...bytes(get(fs, "/f"))], [97, 98, 99, 0, 0, 0, 0, 0]);
  fs.mkdir("/d", 0o755);
  assert.equal(errnoOf(() => fs.truncate("/d", 0)), "EISDIR");
  assert.equal(errnoOf(() => fs.truncate("/f", 2 ** 32 + 1)), "EFBIG");
  assert.equal(errnoOf(() => fs.truncate("/f", -1)), "EINVAL");
  const fd = fs.open(1, 1, "/f", WRONLY);
  assert.equal(errnoOf(() => fs.pwrite(1, fd, 2 ** 32, bytes("x"))), "EFBIG");
  assert.equal(fs.pwrite(1, fd, 2 ** 32 - 1, bytes("xy")), 1); // up to the limit
  assert.equal(fs.fstat(1, fd).size, 2 ** 32);
  fs.ftruncate(1, fd, 0);
  assert.equal(fs.fstat(1, fd).blocks, 0);
  fs.close(1, fd);
});

Deno.test("chmod and utimes set what stat shows; times come from the store's clock", () => {
  const f = fresh();
  const { fs } = f;
  f.clock.ms = 5_000;
  put(fs, "/f", "x");
  assert.equal(fs.stat("/f").mtimeMs, 5_000);
  f.clock.ms = 6_000;
  fs.chmod("/f", 0o600);
  assert.deepEqual([fs.stat("/f").mode, fs.stat("/f").ctimeMs], [0o600, 6_000]);
  fs.utimes("/f", 1, 2);
  assert.deepEqual([fs.stat("/f").atimeMs, fs.stat("/f").mtimeMs], [1, 2]);
  assert.equal(errnoOf(() => fs.chmod("/none", 0)), "ENOENT");
});

Deno.test("every refusal is an FsError over E_FS with the POSIX name first", () => {
  const { fs } = fresh();
  try {
    fs.stat("/missing");
    assert.fail("stat of a missing name succeeded");
  } catch (e) {
    assert.ok(e instanceof FsError);
    assert.equal(e.errno, FsErrno.ENOENT);
    assert.match(e.message, /^E_FS: ENOENT: stat "\/missing"/);
  }
});
