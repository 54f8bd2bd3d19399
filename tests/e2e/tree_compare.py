"""Compares two copies of a replicated tree as a user would: `ls -l`, `stat`, `getfattr`,
`getfacl` and `cmp` on every path.

    differences(root_a, root_b) -> list of "path: what differs" lines (empty: identical)

Per path it compares the file type, permission bits (with set-uid/gid and sticky), owner and
group, size, the bytes of a regular file, a symlink's target, the link count of anything but
a directory, which names share one inode (hard links), every extended attribute in every
namespace (user., trusted., security. and system.posix_acl_* as stored), and the mtime of
anything but a directory, to the nanosecond. It does not compare atime (replicated only when
set explicitly), ctime (the kernel sets it on each node), inode numbers, or a directory's
mtime and link count as the kernel keeps them (both follow the order in which the entries
of a directory were made on each node, which a user does not set); `dir_mtimes=True` adds
directory mtimes to the comparison, and `mtime_slack_ns` accepts mtimes that close.

Usable on its own: python3 tree_compare.py DIR_A DIR_B (exit 1 and the differences if any).
"""

import hashlib
import os
import stat
import sys


def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            out[name] = f"<unreadable: {e.strerror}>"
    return out


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def snapshot(root, dir_mtimes=False):
    """Every path under `root` (relative, root itself as ".") mapped to what is compared."""
    out = {}
    inode_names = {}  # (st_dev, st_ino) -> relative names of one non-directory
    for dirpath, dirnames, filenames in os.walk(root):
        names = [""] if dirpath == root else []
        for name in names + dirnames + filenames:
            path = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            record = {
                "type": stat.filemode(st.st_mode)[0],
                "mode": oct(stat.S_IMODE(st.st_mode)),
                "uid": st.st_uid,
                "gid": st.st_gid,
                "xattrs": _xattrs(path),
            }
            if kind != stat.S_IFDIR:
                record["nlink"] = st.st_nlink
                record["size"] = st.st_size
                record["mtime_ns"] = st.st_mtime_ns
                inode_names.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif dir_mtimes:
                record["mtime_ns"] = st.st_mtime_ns
            if kind == stat.S_IFREG:
                record["sha256"] = _digest(path)
            elif kind == stat.S_IFLNK:
                record["target"] = os.readlink(path)
            out[rel] = record
    for names in inode_names.values():
        for rel in names:
            out[rel]["same_inode_as"] = sorted(names)
    return out


def differences(root_a, root_b, dir_mtimes=False, mtime_slack_ns=0, label_a="a",
                label_b="b"):
    """What differs between the trees at root_a and root_b, one line per difference.
    mtime_slack_ns: mtimes closer than this count as equal (0: to the nanosecond)."""
    a, b = snapshot(root_a, dir_mtimes), snapshot(root_b, dir_mtimes)
    lines = []
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            lines.append(f"{rel!r}: only on {label_a}")
            continue
        if rel not in a:
            lines.append(f"{rel!r}: only on {label_b}")
            continue
        for key in sorted(set(a[rel]) | set(b[rel])):
            va, vb = a[rel].get(key), b[rel].get(key)
            if key == "mtime_ns" and None not in (va, vb) and abs(va - vb) < max(
                    1, mtime_slack_ns):
                continue
            if va != vb:
                lines.append(f"{rel!r}: {key} {label_a}={va!r} {label_b}={vb!r}")
    return lines


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    lines = differences(sys.argv[1], sys.argv[2], label_a=sys.argv[1], label_b=sys.argv[2])
    for line in lines:
        print(line)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
