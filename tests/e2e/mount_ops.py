"""What an application does to a mount, one function per scenario, run by mount_agent.py in
a node's mount namespace. Each takes the agent's `state` (a dict kept between commands)
and paths on the mount, does what a program would (system calls through os, fcntl, mmap and
ctypes), and returns what it observed as JSON values: errnos by name ("EEXIST"), bytes as
text. The tests (mount_semantics_test.py) assert on the answers and on both nodes' backing
copies.
"""

import ctypes
import errno
import fcntl
import mmap
import os
import random
import struct
import subprocess
import time

libc = ctypes.CDLL(None, use_errno=True)
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
AT_FDCWD = -100


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def outcome(action):
    """"ok" (or what `action` returned) when it succeeds, else the errno's name."""
    try:
        result = action()
        return "ok" if result is None else result
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def read_file(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "backslashreplace")


def write_new(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)


def in_child(work):
    """Runs `work()` in a forked child; its exit status is 0 when it returned."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# --- open flags -----------------------------------------------------------------------------

def open_flags(state, d):
    os.mkdir(d)
    out = {}
    excl = os.path.join(d, "excl")
    out["excl_first"] = outcome(lambda: os.close(
        os.open(excl, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)))
    out["excl_second"] = outcome(lambda: os.open(excl, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    trunc = os.path.join(d, "trunc")
    write_new(trunc, "a long first content\n" * 10)
    fd = os.open(trunc, os.O_WRONLY | os.O_TRUNC)
    out["trunc_size_after_open"] = os.fstat(fd).st_size
    os.write(fd, b"short\n")
    os.close(fd)
    out["trunc_content"] = read_file(trunc)

    direct = os.path.join(d, "direct")
    block = mmap.mmap(-1, 8192)  # page-aligned, as O_DIRECT wants
    block.write(bytes(range(256)) * 32)

    def direct_io():
        fd = os.open(direct, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
        try:
            written = os.write(fd, block)
            back = mmap.mmap(-1, 8192)
            got = os.preadv(fd, [back], 0)
            return {"written": written, "read": got, "same": back[:] == block[:]}
        finally:
            os.close(fd)
    out["direct"] = outcome(direct_io)

    for flag in ("O_SYNC", "O_DSYNC"):
        path = os.path.join(d, flag.lower())

        def sync_write():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, flag), 0o644)
            try:
                t0 = time.monotonic()
                for i in range(20):
                    os.write(fd, f"{flag} record {i}\n".encode())
                return {"ms_per_write": round((time.monotonic() - t0) * 1000 / 20, 3)}
            finally:
                os.close(fd)
        out[flag] = outcome(sync_write)
        out[flag + "_content"] = read_file(path)

    def tmpfile():
        fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)
        try:
            os.write(fd, b"was a tmpfile\n")
            os.link(f"/proc/self/fd/{fd}", os.path.join(d, "from_tmpfile"))
        finally:
            os.close(fd)
    out["tmpfile"] = outcome(tmpfile)
    return out


def append_concurrently(state, path, writers, records, size):
    """`writers` processes each append `records` records of `size` bytes ("w<i> r<j> ..."
    padded with dots) to `path` through their own O_APPEND descriptors, all at once."""
    write_new(path, b"")
    pids = []
    for w in range(writers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                for r in range(records):
                    record = f"w{w} r{r} ".encode().ljust(size - 1, b".") + b"\n"
                    if os.write(fd, record) != size:
                        raise OSError(errno.EIO, "short write")
                os.close(fd)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    t0 = time.monotonic()
    failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
    elapsed = time.monotonic() - t0
    return {"failed_writers": len(failed), "us_per_append":
            round(elapsed * 1e6 / (writers * records), 1)}


# --- a file unlinked while open -------------------------------------------------------------

def unlinked_while_open(state, path, keep_open=False):
    """Writes, unlinks, then writes, fsyncs and reads through the descriptor; `keep_open`
    leaves it open in `state` (close_kept closes it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"before unlink\n")
    out = {"unlink": outcome(lambda: os.unlink(path))}
    out["exists_after_unlink"] = os.path.exists(path)
    out["write_after_unlink"] = outcome(lambda: os.write(fd, b"after unlink\n"))
    out["fstat_after_unlink"] = outcome(lambda: {"size": os.fstat(fd).st_size,
                                                 "nlink": os.fstat(fd).st_nlink})
    out["read_after_unlink"] = outcome(lambda: os.pread(fd, 100, 0).decode())
    out["fsync_after_unlink"] = outcome(lambda: os.fsync(fd))
    if keep_open:
        state[path] = fd
    else:
        out["close"] = outcome(lambda: os.close(fd))
    return out


def renamed_over_while_open(state, d):
    """A reader keeps the old "config" open while a new one is renamed over it, then writes
    and fsyncs through its descriptor; the descriptor stays open in state[<d>/config]."""
    os.mkdir(d)
    config, new = os.path.join(d, "config"), os.path.join(d, "config.new")
    write_new(config, "old settings\n")
    fd = os.open(config, os.O_RDWR)
    write_new(new, "new settings\n")
    out = {"rename": outcome(lambda: os.rename(new, config))}
    out["pwrite_old"] = outcome(lambda: os.pwrite(fd, b"OLD", 0))
    out["fsync_old"] = outcome(lambda: os.fsync(fd))
    out["read_old"] = os.pread(fd, 100, 0).decode()
    out["nlink_old"] = os.fstat(fd).st_nlink
    out["config"] = read_file(config)
    out["listed"] = sorted(os.listdir(d))
    state[config] = fd
    return out


def list_dir(state, path):
    return sorted(os.listdir(path))


# --- renames and hard links -----------------------------------------------------------------

def renames(state, d):
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    write_new(j("old"), "old content\n")
    write_new(j("new"), "new content\n")
    out = {"over_file": outcome(lambda: os.rename(j("new"), j("old")))}
    out["over_file_content"] = read_file(j("old"))
    out["source_gone"] = not os.path.exists(j("new"))
    os.mkdir(j("empty"))
    os.mkdir(j("moving"))
    write_new(j("moving", "inside"), "inside\n")
    out["dir_over_empty_dir"] = outcome(lambda: os.rename(j("moving"), j("empty")))
    out["moved_content"] = read_file(j("empty", "inside"))
    os.mkdir(j("nonempty"))
    write_new(j("nonempty", "keep"), "keep\n")
    os.mkdir(j("other"))
    out["dir_over_nonempty_dir"] = outcome(lambda: os.rename(j("other"), j("nonempty")))
    out["file_over_dir"] = outcome(lambda: os.rename(j("old"), j("nonempty")))
    out["rmdir_nonempty"] = outcome(lambda: os.rmdir(j("nonempty")))
    os.makedirs(j("tree", "a", "b"))
    for i in range(20):
        write_new(j("tree", "a", "b", f"f{i}"), f"file {i}\n" * (i + 1))
    os.symlink("a/b/f1", j("tree", "link"))
    out["dir_with_contents"] = outcome(lambda: os.rename(j("tree"), j("tree2")))
    out["through_new_name"] = read_file(j("tree2", "link"))
    return out


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), old)


def rename_flags(state, d):
    """renameat2's flags as applications use them: NOREPLACE as an atomic create-if-absent
    (Maildir delivery), EXCHANGE as an atomic swap (of two files, of a file with a directory,
    of two trees)."""
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    os.mkdir(j("tmp"))
    os.mkdir(j("new"))
    write_new(j("tmp", "msg1"), "first message\n")
    write_new(j("tmp", "msg2"), "second message\n")
    out = {"noreplace_free": outcome(lambda: renameat2(j("tmp", "msg1"), j("new", "msg"),
                                                       RENAME_NOREPLACE))}
    out["noreplace_taken"] = outcome(lambda: renameat2(j("tmp", "msg2"), j("new", "msg"),
                                                       RENAME_NOREPLACE))
    out["delivered"] = read_file(j("new", "msg"))
    out["left_in_tmp"] = sorted(os.listdir(j("tmp")))
    write_new(j("config"), "old settings\n")
    write_new(j("config.next"), "new settings\n")
    out["exchange_files"] = outcome(lambda: renameat2(j("config.next"), j("config"),
                                                      RENAME_EXCHANGE))
    out["config"] = read_file(j("config"))
    out["config.next"] = read_file(j("config.next"))
    os.makedirs(j("site", "v2"))
    write_new(j("site", "v2", "index.html"), "version 2\n")
    write_new(j("current"), "a plain file\n")
    out["exchange_file_with_dir"] = outcome(lambda: renameat2(j("site"), j("current"),
                                                              RENAME_EXCHANGE))
    out["current_index"] = read_file(j("current", "v2", "index.html"))
    out["site"] = read_file(j("site"))
    os.makedirs(j("blue", "app"))
    os.makedirs(j("green", "app", "lib"))
    write_new(j("blue", "app", "run"), "blue\n")
    write_new(j("green", "app", "lib", "run"), "green\n")
    out["exchange_trees"] = outcome(lambda: renameat2(j("blue"), j("green"), RENAME_EXCHANGE))
    out["blue_run"] = read_file(j("blue", "app", "lib", "run"))
    out["exchange_missing"] = outcome(lambda: renameat2(j("config"), j("absent"),
                                                        RENAME_EXCHANGE))
    out["both_flags"] = outcome(lambda: renameat2(j("config"), j("config.next"),
                                                  RENAME_NOREPLACE | RENAME_EXCHANGE))
    return out


def hard_links(state, d):
    os.mkdir(d)
    first, second = os.path.join(d, "first"), os.path.join(d, "second")
    write_new(first, "one\n")
    os.link(first, second)
    with open(second, "r+b") as f:
        f.seek(0, os.SEEK_END)
        f.write(b"two via second\n")
    with open(first, "ab") as f:
        f.write(b"three via first\n")
    st1, st2 = os.stat(first), os.stat(second)
    return {"same_inode": st1.st_ino == st2.st_ino, "nlink": st1.st_nlink,
            "first": read_file(first), "second": read_file(second)}


def read_files(state, *paths):
    return {p: outcome(lambda p=p: read_file(p)) for p in paths}


def stat_inode(state, *paths):
    return {p: [os.stat(p).st_ino, os.stat(p).st_nlink] for p in paths}


# --- mmap -----------------------------------------------------------------------------------

def shared_mmap(state, path, size):
    write_new(path, b"\0" * size)
    fd = os.open(path, os.O_RDWR)
    try:
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        pattern = {}
        for offset in (0, 4090, 4096, size // 2, size - 12):
            data = f"@{offset}!".encode()
            m[offset:offset + len(data)] = data
            pattern[offset] = data.decode()
        m.flush()  # msync(MS_SYNC)
        m.close()
    finally:
        os.close(fd)
    return pattern


# --- attributes -----------------------------------------------------------------------------

def utimensat(path, atime, mtime):
    times = (Timespec * 2)(Timespec(*atime), Timespec(*mtime))
    if libc.utimensat(AT_FDCWD, os.fsencode(path), times, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)


def attributes(state, d):
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    out = {}
    write_new(j("owned"), "owned\n")
    os.chown(j("owned"), 1234, 5678)
    os.chmod(j("owned"), 0o640)
    os.mkdir(j("sticky"), 0o777)
    os.chmod(j("sticky"), 0o1777)
    write_new(j("times"), "times\n")
    os.utime(j("times"), ns=(1_000_000_123, 2_000_000_456))
    write_new(j("now"), "now\n")
    before = time.time_ns()
    utimensat(j("now"), (0, UTIME_NOW), (0, UTIME_NOW))
    st = os.stat(j("now"))
    out["utime_now_within_ms"] = abs(st.st_mtime_ns - before) < 1e9 and abs(
        st.st_atime_ns - before) < 1e9
    write_new(j("omit"), "omit\n")
    os.utime(j("omit"), ns=(3_000_000_000, 4_000_000_000))
    utimensat(j("omit"), (5, 5), (0, UTIME_OMIT))
    st = os.stat(j("omit"))
    out["omit_times"] = [st.st_atime_ns, st.st_mtime_ns]
    utimensat(j("omit"), (0, UTIME_OMIT), (6, 6))
    st = os.stat(j("omit"))
    out["omit_times_2"] = [st.st_atime_ns, st.st_mtime_ns]

    # A set-uid file written by a writer without CAP_FSETID loses its set-uid bit, as on
    # ext4. The descriptor is opened as root; the write runs as uid 1000.
    write_new(j("setuid"), "setuid\n")
    os.chown(j("setuid"), 1000, 1000)
    os.chmod(j("setuid"), 0o6755)
    fd = os.open(j("setuid"), os.O_WRONLY | os.O_APPEND)

    def unprivileged_write():
        os.setgroups([])
        os.setgid(1000)
        os.setuid(1000)
        os.write(fd, b"by uid 1000\n")
    out["unprivileged_write_exit"] = in_child(unprivileged_write)
    os.close(fd)
    out["setuid_mode_after_write"] = oct(os.stat(j("setuid")).st_mode & 0o7777)

    write_new(j("xattrs"), "xattrs\n")
    os.setxattr(j("xattrs"), "user.one", b"1")
    os.setxattr(j("xattrs"), "user.bin", bytes(range(256)))
    os.setxattr(j("xattrs"), "user.gone", b"x")
    os.removexattr(j("xattrs"), "user.gone")
    out["security_xattr"] = outcome(lambda: os.setxattr(j("xattrs"), "security.duet", b"s"))
    out["trusted_xattr"] = outcome(lambda: os.setxattr(j("xattrs"), "trusted.duet", b"t"))
    out["xattr_create_existing"] = outcome(
        lambda: os.setxattr(j("xattrs"), "user.one", b"2", os.XATTR_CREATE))
    out["xattr_replace_missing"] = outcome(
        lambda: os.setxattr(j("xattrs"), "user.none", b"2", os.XATTR_REPLACE))
    out["xattr_remove_missing"] = outcome(lambda: os.removexattr(j("xattrs"), "user.none"))
    out["xattrs_seen"] = sorted(os.listxattr(j("xattrs")))
    return out


# --- sync, statfs, locks --------------------------------------------------------------------

def sync_calls(state, d):
    os.mkdir(d)
    write_new(os.path.join(d, "f"), "synced\n")
    out = {}
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    out["fsync_dir"] = outcome(lambda: os.fsync(dfd))
    out["fdatasync_dir"] = outcome(lambda: os.fdatasync(dfd))

    def syncfs():
        if libc.syncfs(dfd) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    out["syncfs"] = outcome(syncfs)
    os.close(dfd)
    out["sync"] = outcome(os.sync)
    return out


def statfs_pair(state, mount, backing):
    fields = ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
              "f_favail", "f_namemax")
    m, b = os.statvfs(mount), os.statvfs(backing)
    return {"mount": {f: getattr(m, f) for f in fields},
            "backing": {f: getattr(b, f) for f in fields}}


def locks(state, path):
    """Process A (this one) holds a lock; process B (a child) tries it; per lock kind."""
    write_new(path, "locked\n")
    out = {}
    kinds = {
        "flock": (lambda fd: fcntl.flock(fd, fcntl.LOCK_EX),
                  lambda fd: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)),
        "fcntl": (lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0),
                  lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)),
    }
    for name, (hold, attempt) in kinds.items():
        fd = os.open(path, os.O_RDWR)
        hold(fd)
        read_end, write_end = os.pipe()

        def try_lock():
            os.close(read_end)
            fd2 = os.open(path, os.O_RDWR)
            os.write(write_end, outcome(lambda: attempt(fd2)).encode())
        in_child(try_lock)
        os.close(write_end)
        out[name + "_while_held"] = os.read(read_end, 100).decode()
        os.close(read_end)
        os.close(fd)  # releases both kinds
        read_end, write_end = os.pipe()
        in_child(try_lock)
        os.close(write_end)
        out[name + "_after_release"] = os.read(read_end, 100).decode()
        os.close(read_end)
    # F_GETLK from another process names the holder of a read lock.
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_SH, 5, 0)
    holder = os.getpid()
    read_end, write_end = os.pipe()

    def getlk():
        os.close(read_end)
        fd2 = os.open(path, os.O_RDWR)
        lock = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 5, 0)
        got = struct.unpack("hhqqi", fcntl.fcntl(fd2, fcntl.F_GETLK, lock))
        os.write(write_end, f"{got[0] == fcntl.F_RDLCK} {got[4] == holder}".encode())
    in_child(getlk)
    os.close(write_end)
    out["getlk_names_holder"] = os.read(read_end, 100).decode()
    os.close(read_end)
    os.close(fd)
    return out


# --- names and sizes ------------------------------------------------------------------------

def names(state, d):
    os.mkdir(d)
    out = {}
    special = ["with space", "new\nline", "ünïcödé ✓ 日本", "tab\there", "-dash", ".hidden",
               "é" * 127 + "x"]  # the last is 255 bytes in UTF-8
    for name in special:
        write_new(os.path.join(d, name), name + "\n")
    out["listed"] = sorted(os.listdir(d)) == sorted(special)
    out["read_back"] = all(read_file(os.path.join(d, n)) == n + "\n" for n in special)
    out["name_256_bytes"] = outcome(lambda: write_new(os.path.join(d, "y" * 256), "x"))
    # About 4000 bytes of path below the mount.
    component = "d" * 199
    deep = d
    while len(os.fsencode(deep)) + len(component) + 1 < 3990:
        deep = os.path.join(deep, component)
        os.mkdir(deep)
    deep = os.path.join(deep, "e" * (3990 - len(os.fsencode(deep)) - len("/leaf") - 1))
    os.mkdir(deep)
    leaf = os.path.join(deep, "leaf")
    write_new(leaf, "deep\n")
    out["deep_path_bytes"] = len(os.fsencode(leaf))
    out["deep_read"] = read_file(leaf)
    out["deep_rename"] = outcome(lambda: os.rename(leaf, leaf + "2"))
    return out


def in_workers(count, workers, make):
    """Runs make(i) for i in range(count), spread over `workers` forked processes; a
    worker stops at its first failure. Returns (failed workers, their reasons)."""
    pids = []
    read_end, write_end = os.pipe()  # a failing worker says why
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                for i in range(w, count, workers):
                    error = outcome(lambda: make(i))
                    if error != "ok":
                        os.write(write_end, f"{i}: {error}\n".encode())
                        break
                else:
                    code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(write_end)
    with os.fdopen(read_end) as reasons:
        errors = reasons.read().splitlines()
    return sum(1 for pid in pids if os.waitpid(pid, 0)[1] != 0), errors


def many_entries(state, d, count, lookups, workers):
    """Creates `count` empty files in `d` with `workers` processes, lists them all, and
    looks up `lookups` random names; returns the time per operation."""
    os.mkdir(d)
    t0 = time.monotonic()
    failed, errors = in_workers(count, workers, lambda i: os.close(os.open(
        os.path.join(d, f"entry-{i:06d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))
    create_s = time.monotonic() - t0
    t0 = time.monotonic()
    listed = [e.name for e in os.scandir(d)]
    readdir_s = time.monotonic() - t0
    wanted = random.Random(15).sample(range(count), lookups)
    t0 = time.monotonic()
    found = sum(1 for i in wanted if os.path.exists(os.path.join(d, f"entry-{i:06d}")))
    lookup_s = time.monotonic() - t0
    return {"failed_workers": failed, "errors": errors, "listed": len(listed), "unique": len(set(listed)),
            "found": found, "create_us_per_file": round(create_s * 1e6 / count, 1),
            "readdir_us_per_entry": round(readdir_s * 1e6 / max(1, len(listed)), 2),
            "lookup_us_per_name": round(lookup_s * 1e6 / lookups, 1)}


def many_files_written(state, d, count, workers):
    """Creates `count` files in `d` with `workers` processes, each holding its own name a
    few times; then lists them and reads each back through a new open."""
    os.mkdir(d)
    content = lambda i: (f"file {i}\n" * (1 + i % 7)).encode()  # noqa: E731
    def create(i):
        fd = os.open(os.path.join(d, f"file-{i:06d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o644)
        try:
            os.write(fd, content(i))
        finally:
            os.close(fd)

    t0 = time.monotonic()
    failed, errors = in_workers(count, workers, create)
    write_s = time.monotonic() - t0
    listed = len(os.listdir(d))
    t0 = time.monotonic()
    read_back = 0
    for i in range(count):
        try:
            with open(os.path.join(d, f"file-{i:06d}"), "rb") as f:
                if f.read() == content(i):
                    read_back += 1
                else:
                    errors.append(f"file {i}: other bytes read back")
        except OSError as e:
            errors.append(f"file {i}: reading back: {e}")
    read_s = time.monotonic() - t0
    return {"failed_workers": failed, "errors": errors[:20], "listed": listed,
            "read_back": read_back, "write_us_per_file": round(write_s * 1e6 / count, 1),
            "read_us_per_file": round(read_s * 1e6 / count, 1)}


# --- the secondary's mount ------------------------------------------------------------------

def mutations_on_read_only(state, d, existing_file, existing_dir):
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    return {
        "create": outcome(lambda: os.open(j("new"), os.O_WRONLY | os.O_CREAT, 0o644)),
        "open_for_write": outcome(lambda: os.open(existing_file, os.O_WRONLY)),
        "open_trunc": outcome(lambda: os.open(existing_file, os.O_RDONLY | os.O_TRUNC)),
        "mkdir": outcome(lambda: os.mkdir(j("newdir"))),
        "unlink": outcome(lambda: os.unlink(existing_file)),
        "rmdir": outcome(lambda: os.rmdir(existing_dir)),
        "rename": outcome(lambda: os.rename(existing_file, j("renamed"))),
        "link": outcome(lambda: os.link(existing_file, j("linked"))),
        "symlink": outcome(lambda: os.symlink("x", j("symlinked"))),
        "mkfifo": outcome(lambda: os.mkfifo(j("fifo"))),
        "chmod": outcome(lambda: os.chmod(existing_file, 0o600)),
        "chown": outcome(lambda: os.chown(existing_file, 1, 1)),
        "utime": outcome(lambda: os.utime(existing_file, ns=(1, 1))),
        "truncate": outcome(lambda: os.truncate(existing_file, 0)),
        "setxattr": outcome(lambda: os.setxattr(existing_file, "user.x", b"1")),
        "removexattr": outcome(lambda: os.removexattr(existing_file, "user.x")),
        "read": outcome(lambda: len(read_file(existing_file))),
    }


def open_keep(state, path, flags):
    state[path] = os.open(path, getattr(os, flags))
    return "ok"


def pwrite_kept(state, path, offset, text):
    return os.pwrite(state[path], text.encode(), offset)


def pread_kept(state, path, offset, size):
    return os.pread(state[path], size, offset).decode("utf-8", "backslashreplace")


def pread_fresh(state, path, offset, size):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset).decode("utf-8", "backslashreplace")
    finally:
        os.close(fd)


def close_kept(state, path):
    os.close(state.pop(path))
    return "ok"


def make_dirs(state, *paths):
    for path in paths:
        os.makedirs(path)
    return "ok"


def acls(state, d):
    """POSIX ACLs set with setfacl through the mount: an access ACL on a file, a default
    ACL on a directory that a new file there inherits; getfacl's view of each."""
    os.mkdir(d)
    f, sub = os.path.join(d, "file"), os.path.join(d, "inherits")
    write_new(f, "acl\n")
    os.mkdir(sub)
    run = lambda *argv: subprocess.run(argv, capture_output=True, text=True)  # noqa: E731
    out = {"setfacl_access": run("setfacl", "-m", "u:1000:rw,g:2000:r", f).returncode,
           "setfacl_default": run("setfacl", "-d", "-m", "u:1000:rwx", sub).returncode}
    write_new(os.path.join(sub, "child"), "child\n")
    os.mkdir(os.path.join(sub, "childdir"))
    for name, path in (("file", f), ("dir", sub), ("child", os.path.join(sub, "child")),
                       ("childdir", os.path.join(sub, "childdir"))):
        out["getfacl_" + name] = run("getfacl", "-c", "-p", "-n", path).stdout
    return out


def write_small_file(state, path):
    """A new file at `path` holding "read-only\n" (what the read-only checks read back)."""
    write_new(path, "read-only\n")
    return "ok"


FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 0x01, 0x02, 0x10
FALLOC_FL_COLLAPSE_RANGE = 0x08


def fallocate(fd, mode, offset, length):
    """fallocate(2) through ctypes (os has posix_fallocate only); raises OSError."""
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    if libc.fallocate(fd, mode, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def fallocate_modes(state, d):
    """What a VM image or a database does: preallocate (posix_fallocate), reserve past the
    end (KEEP_SIZE), write, discard (punch a hole), zero a range; then a mode the mount
    refuses."""
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "img")
    mib = 1 << 20
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        r = {"posix_fallocate": outcome(lambda: os.posix_fallocate(fd, 0, 4 * mib))}
        r["size_after_posix_fallocate"] = os.fstat(fd).st_size
        os.pwrite(fd, bytes(random.Random(1).randbytes(mib)), 0)
        os.pwrite(fd, b"tail" * 16384, 3 * mib)
        r["keep_size"] = outcome(lambda: fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * mib))
        r["size_after_keep_size"] = os.fstat(fd).st_size
        r["punch"] = outcome(lambda: fallocate(
            fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 256 << 10, 256 << 10))
        r["zero_range"] = outcome(lambda: fallocate(fd, FALLOC_FL_ZERO_RANGE, 3 * mib, 64 << 10))
        r["zero_range_grows"] = outcome(lambda: fallocate(fd, FALLOC_FL_ZERO_RANGE, 5 * mib, 4096))
        r["size_at_end"] = os.fstat(fd).st_size
        r["punched_reads_zeros"] = os.pread(fd, 256 << 10, 256 << 10) == bytes(256 << 10)
        r["collapse"] = outcome(lambda: fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 64 << 10))
        os.fsync(fd)
    finally:
        os.close(fd)
    return r


def sparse_file(state, path, size, extents, extent_size):
    """A file of `size` bytes with `extents` written extents of `extent_size` bytes spread
    over it (a thin VM disk): returns the offsets written."""
    offsets = [(size // extents) * i + 12345 * i for i in range(extents)]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, size)
        for i, offset in enumerate(offsets):
            os.pwrite(fd, bytes([i + 1]) * extent_size, offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    return offsets
