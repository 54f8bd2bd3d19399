// BackingStore: what a resync reads (ReadZone, ListTree) and keeps aside (PreserveDivergent).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "adapters/store/backing_store.h"
#include "adapters/store/beneath_path.h"
#include "adapters/store/errno_status.h"
#include "adapters/store/file_attrs.h"
#include "adapters/store/preserve_divergent.h"
#include "adapters/store/tree_walk.h"
#include "adapters/store/zone_digest.h"

namespace duet::store {
namespace {

constexpr absl::string_view kOp = "read-zone";

// Up to `length` bytes of the open file from `offset`, fewer at its end.
absl::StatusOr<std::string> ReadBytes(int fd, uint64_t file_size, uint64_t offset, uint64_t length,
                                      absl::string_view path) {
  if (offset >= file_size) return std::string();
  std::string bytes(std::min(length, file_size - offset), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, kOp, path);
    if (n == 0) break;  // shorter than its stat said
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

// Where the hole at `offset` of the open file (offset < file_size) ends, if all of [offset,
// offset + length) is in it: where SEEK_DATA finds data, or file_size if none follows. 0 if
// the range holds data; a file system without SEEK_DATA (EINVAL) has no holes.
absl::StatusOr<uint64_t> HoleEnd(int fd, uint64_t file_size, uint64_t offset, uint64_t length,
                                 absl::string_view path) {
  const off_t data = lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0 && errno == ENXIO) return file_size;  // no data from offset to the end
  if (data < 0 && errno == EINVAL) return 0;
  if (data < 0) return ErrnoStatus(errno, kOp, path);
  const uint64_t end = std::min(file_size, offset + std::min(length, file_size - offset));
  const uint64_t data_at = static_cast<uint64_t>(data);
  return data_at >= end ? std::min(data_at, file_size) : 0;
}

// The holes inside [offset, offset + length) of the open file (offset < file_size), as
// SEEK_HOLE and SEEK_DATA find them, from `offset`.
absl::StatusOr<HoleRanges> HolesIn(int fd, uint64_t file_size, uint64_t offset, uint64_t length,
                                   absl::string_view path) {
  HoleRanges holes;
  const uint64_t end = offset + std::min(length, file_size - offset);
  for (uint64_t at = offset; at < end;) {
    const off_t hole = lseek(fd, static_cast<off_t>(at), SEEK_HOLE);
    if (hole < 0 && (errno == EINVAL || errno == ENXIO)) break;  // none to find
    if (hole < 0) return ErrnoStatus(errno, kOp, path);
    if (static_cast<uint64_t>(hole) >= end) break;
    off_t data = lseek(fd, hole, SEEK_DATA);
    if (data < 0 && errno != ENXIO) return ErrnoStatus(errno, kOp, path);
    const uint64_t hole_end = data < 0 ? end : std::min<uint64_t>(end, static_cast<uint64_t>(data));
    holes.push_back(
        HoleRange{static_cast<uint64_t>(hole) - offset, hole_end - static_cast<uint64_t>(hole)});
    at = hole_end;
  }
  return holes;
}

}  // namespace

ZoneRead BackingStore::ReadZone(uint64_t read_id, const std::string& path, uint64_t offset,
                                uint64_t length, ZoneReadContent content) const {
  ZoneRead read;
  read.read_id = read_id;
  if (absl::Status checked = CheckRelativePath(kOp, path); !checked.ok()) {
    read.status = std::move(checked);
    return read;
  }
  if (length > kMaxReadLength) {
    read.status = absl::InvalidArgumentError(absl::StrCat(
        "read-zone '", path, "': ", length, " bytes asked, more than ", kMaxReadLength));
    return read;
  }
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), path, &parent); err != 0) {
    if (!ParentMeansAbsent(err)) read.status = ParentError(err, kOp, path);
    return read;  // kAbsent
  }
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) read.status = ErrnoStatus(errno, kOp, path);
    return read;
  }
  if (S_ISDIR(st.st_mode)) {
    read.kind = PathKind::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    absl::StatusOr<std::string> target =
        ReadLinkAt(parent.dir.get(), parent.name, static_cast<size_t>(st.st_size), path);
    if (!target.ok()) {
      read.status = target.status();
      return read;
    }
    read.kind = PathKind::kSymlink;
    read.link_target = *std::move(target);
  } else if (S_ISREG(st.st_mode)) {
    const int fd = openat(parent.dir.get(), parent.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
      read.status = ErrnoStatus(errno, kOp, path);
      if (fd >= 0) close(fd);
      return read;
    }
    const UniqueFd file(fd);
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (offset < file_size && length > 0) {
      absl::StatusOr<uint64_t> hole_end = HoleEnd(file.get(), file_size, offset, length, path);
      if (!hole_end.ok()) {
        read.status = hole_end.status();
        return read;
      }
      read.hole = *hole_end != 0;
      read.hole_end = *hole_end;
    }
    absl::StatusOr<std::string> bytes =
        read.hole ? absl::StatusOr<std::string>(std::string())
                  : ReadBytes(file.get(), file_size, offset, length, path);
    if (!bytes.ok()) {
      read.status = bytes.status();
      return read;
    }
    read.kind = PathKind::kFile;
    read.file_size = static_cast<uint64_t>(st.st_size);
    if (!read.hole && !bytes->empty()) {
      // Within the bytes read: what the peer checks them against.
      absl::StatusOr<HoleRanges> holes =
          HolesIn(file.get(), file_size, offset, bytes->size(), path);
      if (!holes.ok()) {
        read.status = holes.status();
        return read;
      }
      read.hole_ranges = *std::move(holes);
    }
    if (!read.hole) read.data = MakePayload(*std::move(bytes));
    if (content != ZoneReadContent::kData) read.digest = ZoneDigest(read, offset, length);
    if (content == ZoneReadContent::kDigest) {
      read.data = nullptr;
      read.hole_ranges.clear();
    }
    if (st.st_nlink > 1) {
      read.link_device = static_cast<uint64_t>(st.st_dev);
      read.link_inode = static_cast<uint64_t>(st.st_ino);
    }
  } else if (S_ISFIFO(st.st_mode)) {
    read.kind = PathKind::kFifo;
  } else if (S_ISSOCK(st.st_mode)) {
    read.kind = PathKind::kSocket;
  } else {
    read.status = absl::UnimplementedError(absl::StrCat(
        "read-zone '", path, "': a device node, which is never replicated (adapter contract C14)"));
    return read;
  }
  read.mode = st.st_mode & kMaxModeBits;
  read.uid = st.st_uid;
  read.gid = st.st_gid;
  read.atime_ns = int64_t{st.st_atim.tv_sec} * 1'000'000'000 + st.st_atim.tv_nsec;
  read.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (offset == 0) {
    absl::StatusOr<XattrSet> xattrs = ReadXattrsAt(parent.dir.get(), parent.name, path);
    if (!xattrs.ok()) {
      read.status = xattrs.status();
      return read;
    }
    read.xattrs = *std::move(xattrs);
  }
  return read;
}

absl::StatusOr<std::vector<std::string>> BackingStore::ListTree() const {
  return ListNames(root_.get());
}

absl::StatusOr<std::string> BackingStore::PreserveDivergent(const std::vector<std::string>& paths,
                                                            const std::string& dest_root,
                                                            absl::Time now) const {
  return PreserveDivergentPaths(root_.get(), paths, dest_root, now);
}

}  // namespace duet::store
