#include "sim/workload.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace duet::sim {
namespace {

constexpr int kScratchFiles = 8;
// The verified files: overwritten in place, appended to, written sparsely (a VM image).
constexpr const char* kSmallFile = "data/small";
constexpr const char* kLogFile = "data/log";
constexpr const char* kImageFile = "vm.img";
constexpr uint64_t kSmallSize = 256 << 10;
constexpr uint64_t kLogWrap = 2 << 20;
constexpr uint64_t kImageSize = 4 << 20;

// Half the scratch names have spaces and UTF-8 (the stream and the resync carry bytes).
std::string ScratchPath(uint64_t i) {
  return i % 2 == 0 ? absl::StrCat("tmp/s", i) : absl::StrCat("tmp/dir \u00e9/f\u00fc r ", i);
}
// Scratch directories and symlinks beside the scratch files.
constexpr const char* kScratchDirPrefix = "tmp/d \u00df";
std::string ScratchDir(uint64_t i) { return absl::StrCat(kScratchDirPrefix, i % 2); }
std::string ScratchLink(uint64_t i) { return absl::StrCat("tmp/l", i % 2); }
// Names inside scratch directory j: three files, and a file in its subdirectory.
std::string SubDir(uint64_t j) { return ScratchDir(j) + "/sub"; }
std::string InDirFile(uint64_t j, uint64_t k) {
  return k == 3 ? SubDir(j) + "/g" : absl::StrCat(ScratchDir(j), "/f", k);
}
// Owners the workload gives (root, a service account, a user).
constexpr uint32_t kOwners[] = {0, 70, 1000};

}  // namespace

std::string WorkloadBytes(uint64_t op_id, uint64_t size) {
  // Byte 7k + j is byte j of the salt plus k, so the pattern repeats every 7 * 256 bytes:
  // make one period, then copy it (the workload writes hundreds of MB per simulated minute).
  constexpr uint64_t kPeriod = 7 * 256;
  const uint64_t salt = op_id * 0x9e3779b97f4a7c15ull;
  std::string bytes;
  bytes.reserve(size);
  for (uint64_t i = 0; i < std::min(size, kPeriod); ++i) {
    bytes.push_back(static_cast<char>((salt >> ((i % 7) * 8)) + i / 7));
  }
  while (bytes.size() < size) bytes.append(bytes, 0, std::min(bytes.size(), size - bytes.size()));
  return bytes;
}

Workload::Workload(size_t modules, uint64_t seed) : rng_(seed), modules_(modules) {
  for (Module& mod : modules_) {
    mod.scratch_exists.assign(kScratchFiles, false);
    mod.dir_exists.assign(2, false);
    mod.sub_exists.assign(2, false);
    mod.dir_files.assign(2, 0);
  }
}

int Workload::outstanding() const {
  int total = 0;
  for (const Module& mod : modules_) total += mod.outstanding;
  return total;
}

uint64_t Workload::WriteSize() {
  // Mostly small, some spanning zones, a few up to 1 MiB.
  const uint64_t pick = rng_.Below(100);
  auto log_uniform = [&](int lo_bits, int hi_bits) {
    const int bits = static_cast<int>(rng_.Between(lo_bits, hi_bits));
    const uint64_t lo = uint64_t{1} << bits;
    return static_cast<uint64_t>(
        rng_.Between(static_cast<int64_t>(lo), static_cast<int64_t>(2 * lo)));
  };
  if (pick < 65) return std::min<uint64_t>(log_uniform(0, 11), 4096);
  if (pick < 95) return log_uniform(12, 15);
  return std::min<uint64_t>(log_uniform(16, 19), 1 << 20);
}

Mutation Workload::Next(ModuleIndex m, NodeIndex n, uint64_t op_id) {
  Module& mod = modules_[m];
  Op op;
  op.module = m;
  op.node = n;
  Mutation mutation;
  const uint64_t pick = rng_.Below(100);
  if (pick < 70) {
    mutation = NextWrite(mod, op, op_id);
  } else if (pick < 80) {
    mutation.kind = MutationKind::kFsync;
    const uint64_t which = rng_.Below(3);
    mutation.path = which == 0 ? "" : which == 1 ? kLogFile : kImageFile;
    op.covers_upto = mod.next_ack_seq;
  } else {
    mutation = NextScratch(mod, op_id);
  }
  op.kind = mutation.kind;
  op.sync = mutation.sync;
  op.path = mutation.path;
  op.offset = mutation.offset;
  op.fallocate_mode = mutation.fallocate_mode;
  if (op.verified) {
    // A punch or a zero range: its bytes must read as zeros.
    op.data = mutation.kind == MutationKind::kFallocate
                  ? MakePayload(std::string(mutation.length, '\0'))
                  : mutation.data;
  }
  ++mod.outstanding;
  ++issued_;
  ops_.emplace(op_id, std::move(op));
  if (ops_.at(op_id).verified) {
    const Op& issued = ops_.at(op_id);
    Assign(mod.files[mutation.path], mutation.offset, mutation.offset + issued.data->size(), op_id);
  }
  return mutation;
}

Mutation Workload::NextWrite(Module& mod, Op& op, uint64_t op_id) {
  Mutation m;
  m.kind = MutationKind::kWrite;
  uint64_t size = WriteSize();
  const uint64_t file = rng_.Below(3);
  if (file == 0) {
    m.path = kSmallFile;
    size = std::min(size, kSmallSize);
    m.offset = rng_.Below(kSmallSize - size + 1);
  } else if (file == 1) {
    m.path = kLogFile;
    if (mod.log_size + size > kLogWrap) mod.log_size = 0;
    m.offset = mod.log_size;
    mod.log_size += size;
  } else {
    m.path = kImageFile;
    m.offset = rng_.Below(kImageSize - size + 1);
    if (rng_.Chance(0.5)) m.offset &= ~uint64_t{511};  // sector aligned, as a VM writes
    if (rng_.Chance(0.15)) return NextFallocate(op, m.offset, size);
  }
  m.data = MakePayload(WorkloadBytes(op_id, size));
  // A database's log opened O_DSYNC: some appends are durable when they complete.
  m.sync = file == 1 && rng_.Chance(0.2);
  op.verified = true;
  return m;
}

Mutation Workload::NextFallocate(Op& op, uint64_t offset, uint64_t size) {
  // What a VM image sees: discards (punch), zeroing, preallocation with and without growing.
  static constexpr uint32_t kModes[] = {kFallocatePunchHole | kFallocateKeepSize,
                                        kFallocatePunchHole | kFallocateKeepSize,
                                        kFallocateZeroRange,
                                        kFallocateZeroRange | kFallocateKeepSize,
                                        kFallocateKeepSize,
                                        0};
  Mutation m = MakeMutation(MutationKind::kFallocate, kImageFile);
  m.offset = offset;
  m.length = std::max<uint64_t>(size, rng_.Below(4) == 0 ? 256 << 10 : 1);
  m.length = std::min(m.length, kImageSize - offset);
  m.fallocate_mode = kModes[rng_.Below(std::size(kModes))];
  // An allocation changes no byte: only a punch or a zero range is checked.
  op.verified = (m.fallocate_mode & (kFallocatePunchHole | kFallocateZeroRange)) != 0;
  return m;
}

Mutation Workload::NextScratch(Module& mod, uint64_t op_id) {
  const uint64_t i = rng_.Below(kScratchFiles);
  const std::string path = ScratchPath(i);
  Mutation m;
  m.path = path;
  switch (rng_.Below(7)) {
    case 0:
      m.kind = MutationKind::kCreate;
      m.mode = 0644;
      m.uid = kOwners[rng_.Below(3)];
      m.gid = kOwners[rng_.Below(3)];
      mod.scratch_exists[i] = true;
      break;
    case 1:
      m.kind = MutationKind::kWrite;
      m.offset = rng_.Below(64 << 10);
      m.data = MakePayload(WorkloadBytes(op_id, WriteSize() % (64 << 10) + 1));
      mod.scratch_exists[i] = true;
      break;
    case 2:
      if (!mod.scratch_exists[i]) return NextScratch(mod, op_id);
      m.kind = MutationKind::kTruncate;
      m.offset = rng_.Below(96 << 10);
      // Now and then past the largest file: both copies refuse it (EFBIG), changing nothing.
      if (rng_.Chance(0.02)) m.offset = MemStore::kMaxFileSize + 1 + rng_.Below(1 << 20);
      break;
    case 3: {
      if (!mod.scratch_exists[i]) return NextScratch(mod, op_id);
      const uint64_t to = (i + 1 + rng_.Below(kScratchFiles - 1)) % kScratchFiles;
      m.kind = MutationKind::kRename;
      m.path2 = ScratchPath(to);
      // renameat2's flags where the kernel lets them through (it checks the names first): a
      // create-if-absent, an atomic swap of two files or of the two scratch directories.
      switch (rng_.Below(4)) {
        case 0:
          if (!mod.scratch_exists[to]) m.rename_flags = kRenameNoReplace;
          break;
        case 1:
          if (mod.scratch_exists[to]) {
            m.rename_flags = kRenameExchange;
            return m;  // both names stay
          }
          break;
        case 2:
          if (mod.dir_exists[0] && mod.dir_exists[1]) {
            m = MakeMutation(MutationKind::kRename, ScratchDir(0), ScratchDir(1));
            m.rename_flags = kRenameExchange;
            const bool sub0 = mod.sub_exists[0];  // (vector<bool>: no std::swap of two)
            mod.sub_exists[0] = mod.sub_exists[1];
            mod.sub_exists[1] = sub0;
            std::swap(mod.dir_files[0], mod.dir_files[1]);
            return m;
          }
          break;
        default:
          break;
      }
      mod.scratch_exists[i] = false;
      mod.scratch_exists[to] = true;
      break;
    }
    case 4:
      m.kind = MutationKind::kUnlink;
      mod.scratch_exists[i] = false;
      break;
    default:
      return NextScratchName(mod, i, op_id);
  }
  return m;
}

Mutation Workload::NextScratchName(Module& mod, uint64_t i, uint64_t op_id) {
  // A setattr or xattr change names a path that exists once the mutations issued before it are
  // applied (the kernel answers ENOENT before the adapter sees it otherwise). MemStore makes
  // the rest idempotent (mkdir of a directory that exists, rmdir of one that does not).
  Mutation m;
  switch (rng_.Below(10)) {
    case 7:
    case 8:
    case 9:
      return NextInDirectory(mod, i, op_id);
    case 5:
    case 6: {
      // An xattr of a path that exists (ACLs are xattrs too).
      std::string path;
      if (mod.scratch_exists[i]) path = ScratchPath(i);
      if (mod.dir_exists[i % 2] && (path.empty() || rng_.Chance(0.3))) path = ScratchDir(i);
      if (mod.files.contains(kImageFile) && (path.empty() || rng_.Chance(0.2))) path = kImageFile;
      if (path.empty()) return NextScratchName(mod, (i + 1) % kScratchFiles, op_id);
      static constexpr const char* kNames[] = {"user.comment", "system.posix_acl_access",
                                               "trusted.\u00e9t\u00e9 x"};
      m = MakeMutation(rng_.Chance(0.7) ? MutationKind::kSetxattr : MutationKind::kRemovexattr,
                       std::move(path));
      m.xattr_name = kNames[rng_.Below(3)];
      if (m.kind == MutationKind::kSetxattr) {
        m.data = MakePayload(std::string(rng_.Below(300), static_cast<char>('a' + rng_.Below(26))));
      }
      break;
    }
    case 0:
      m = MakeMutation(MutationKind::kMkdir, ScratchDir(i));
      m.mode = 0750;
      m.uid = kOwners[rng_.Below(3)];
      m.gid = kOwners[rng_.Below(3)];
      mod.dir_exists[i % 2] = true;
      break;
    case 1: {
      // rm -r, one call at a time: rmdir refuses a directory with names (ENOTEMPTY), so the
      // names the model has under it go first, the deepest first.
      const uint64_t j = i % 2;
      if ((mod.dir_files[j] & (1u << 3)) != 0) {
        mod.dir_files[j] = static_cast<uint8_t>(mod.dir_files[j] & ~(1u << 3));
        return MakeMutation(MutationKind::kUnlink, InDirFile(j, 3));
      }
      if (mod.sub_exists[j]) {
        mod.sub_exists[j] = false;
        return MakeMutation(MutationKind::kRmdir, SubDir(j));
      }
      for (uint64_t k = 0; k < 3; ++k) {
        if ((mod.dir_files[j] & (1u << k)) == 0) continue;
        mod.dir_files[j] = static_cast<uint8_t>(mod.dir_files[j] & ~(1u << k));
        return MakeMutation(MutationKind::kUnlink, InDirFile(j, k));
      }
      m = MakeMutation(MutationKind::kRmdir, ScratchDir(i));
      mod.dir_exists[j] = false;
      break;
    }
    case 2:
      m = MakeMutation(MutationKind::kSymlink, ScratchLink(i),
                       rng_.Chance(0.5) ? "s0" : "/elsewhere/\u00e9 x");
      m.uid = kOwners[rng_.Below(3)];
      break;
    // No hard links yet: MemStore models a link as a copy, which the engine's tracking
    // (right for one inode with two names: a block to either name reaches both) does not
    // follow through a resync. Issue 12, item 7.
    default: {
      // A verified file, a scratch file or directory: its attributes never touch the data.
      const uint64_t which = rng_.Below(3);
      if (which == 0 && mod.files.contains(kImageFile)) return NextSetattr(kImageFile);
      if (which == 1 && mod.dir_exists[i % 2]) return NextSetattr(ScratchDir(i));
      if (mod.scratch_exists[i]) return NextSetattr(ScratchPath(i));
      m = MakeMutation(MutationKind::kMkdir, ScratchDir(i));
      mod.dir_exists[i % 2] = true;
      break;
    }
  }
  return m;
}

Mutation Workload::NextInDirectory(Module& mod, uint64_t i, uint64_t op_id) {
  uint64_t j = i % 2;
  if (!mod.dir_exists[j]) j = 1 - j;
  if (!mod.dir_exists[j]) {
    Mutation m = MakeMutation(MutationKind::kMkdir, ScratchDir(i));
    m.mode = 0755;
    mod.dir_exists[i % 2] = true;
    return m;
  }
  const uint64_t other = 1 - j;
  switch (rng_.Below(8)) {
    case 0:
      if (!mod.sub_exists[j]) {
        Mutation m = MakeMutation(MutationKind::kMkdir, SubDir(j));
        m.mode = 0700;
        m.uid = kOwners[rng_.Below(3)];
        mod.sub_exists[j] = true;
        return m;
      }
      break;
    case 1:
      // Moved whole under the other name (a plain rename only onto a name that is free, as
      // onto a directory with names the kernel refuses it).
      if (!mod.dir_exists[other]) {
        Mutation m = MakeMutation(MutationKind::kRename, ScratchDir(j), ScratchDir(other));
        mod.dir_exists[j] = false;
        mod.dir_exists[other] = true;
        mod.sub_exists[other] = mod.sub_exists[j];
        mod.sub_exists[j] = false;
        mod.dir_files[other] = mod.dir_files[j];
        mod.dir_files[j] = 0;
        return m;
      }
      break;
    case 2: {
      // A file inside moved to another name inside (replacing what it held).
      const uint64_t k = rng_.Below(3);
      const uint64_t to = (k + 1) % 3;
      if ((mod.dir_files[j] & (1u << k)) == 0) break;
      mod.dir_files[j] = static_cast<uint8_t>((mod.dir_files[j] & ~(1u << k)) | (1u << to));
      return MakeMutation(MutationKind::kRename, InDirFile(j, k), InDirFile(j, to));
    }
    case 3: {
      const uint64_t k = rng_.Below(3);
      mod.dir_files[j] = static_cast<uint8_t>(mod.dir_files[j] & ~(1u << k));
      return MakeMutation(MutationKind::kUnlink, InDirFile(j, k));
    }
    default:
      break;
  }
  const uint64_t k = mod.sub_exists[j] ? rng_.Below(4) : rng_.Below(3);
  mod.dir_files[j] = static_cast<uint8_t>(mod.dir_files[j] | (1u << k));
  Mutation m = MakeMutation(MutationKind::kWrite, InDirFile(j, k));
  m.offset = rng_.Below(96 << 10);
  m.data = MakePayload(WorkloadBytes(op_id, WriteSize() % (160 << 10) + 1));
  return m;
}

std::optional<std::string> Workload::MissingDirectory(const Mutation& m,
                                                      const MemStore::Tree& tree) {
  for (const std::string* name : {&m.path, &m.path2}) {
    if (name->empty()) continue;
    for (size_t slash = name->find('/'); slash != std::string::npos;
         slash = name->find('/', slash + 1)) {
      std::string dir = name->substr(0, slash);
      if (absl::StartsWith(dir, kScratchDirPrefix)) break;
      if (!tree.contains(dir)) return dir;
    }
    if (m.kind != MutationKind::kRename && m.kind != MutationKind::kLink) break;
  }
  return std::nullopt;
}

absl::Status Workload::LookUpParents(const Mutation& m, const MemStore::Tree& tree) {
  const auto look_up = [&](const std::string& name) -> absl::Status {
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      auto dir = tree.find(name.substr(0, slash));
      if (dir == tree.end() || dir->second.kind != PathKind::kDirectory) {
        return absl::NotFoundError(
            absl::StrCat("ENOENT: ", name.substr(0, slash), " (looking up ", name, ")"));
      }
    }
    return absl::OkStatus();
  };
  DUET_RETURN_IF_ERROR(look_up(m.path));
  const bool two_names = m.kind == MutationKind::kRename || m.kind == MutationKind::kLink;
  if (two_names) DUET_RETURN_IF_ERROR(look_up(m.path2));
  // What the kernel (and the mount, for ENOTEMPTY) answers before the engine sees the call.
  auto it = tree.find(m.path);
  const bool exists = it != tree.end();
  const bool is_dir = exists && it->second.kind == PathKind::kDirectory;
  switch (m.kind) {
    case MutationKind::kMkdir:
    case MutationKind::kSymlink:
      if (exists) return absl::AlreadyExistsError("EEXIST: " + m.path);
      break;
    case MutationKind::kRmdir:
      if (!exists) return absl::NotFoundError("ENOENT: " + m.path);
      if (!is_dir) return absl::FailedPreconditionError("ENOTDIR: " + m.path);
      if (MemStore::HasEntries(tree, m.path)) {
        return absl::FailedPreconditionError("ENOTEMPTY: " + m.path);
      }
      break;
    case MutationKind::kUnlink:
      if (is_dir) return absl::FailedPreconditionError("EISDIR: " + m.path);
      break;
    case MutationKind::kRename: {
      if (!exists || !tree.contains(m.path2) || m.is_exchange() || m.path == m.path2) break;
      return MemStore::RenameOverRefusal(tree, m.path, m.path2);
    }
    default:
      break;
  }
  return absl::OkStatus();
}

Mutation Workload::NextSetattr(std::string path) {
  // chmod, chown, or utimensat (UTIME_NOW already resolved by the adapter), or a mix.
  Mutation m = MakeMutation(MutationKind::kSetattr, std::move(path));
  while (m.attr_mask == 0) m.attr_mask = static_cast<uint32_t>(rng_.Below(kAllAttrs + 1));
  m.mode = static_cast<uint32_t>(rng_.Below(01000));
  m.uid = kOwners[rng_.Below(3)];
  m.gid = kOwners[rng_.Below(3)];
  m.atime_ns = static_cast<int64_t>(rng_.Below(uint64_t{1} << 62));
  m.mtime_ns = static_cast<int64_t>(rng_.Below(uint64_t{1} << 62)) - (int64_t{1} << 40);
  return m;
}

void Workload::Assign(RangeMap& ranges, uint64_t start, uint64_t end, uint64_t op) {
  if (start >= end) return;
  // Split the ranges straddling the boundaries, then replace everything inside.
  auto split = [&](uint64_t at) {
    auto it = ranges.upper_bound(at);
    if (it == ranges.begin()) return;
    --it;
    if (it->first < at && it->second.end > at) {
      ranges[at] = Range{it->second.end, it->second.op};
      it->second.end = at;
      ++ops_.at(it->second.op).ranges;
    }
  };
  split(start);
  split(end);
  for (auto it = ranges.lower_bound(start); it != ranges.end() && it->first < end;) {
    const uint64_t old = it->second.op;
    it = ranges.erase(it);
    if (--ops_.at(old).ranges == 0) Release(old);
  }
  ranges[start] = Range{end, op};
  ++ops_.at(op).ranges;
}

void Workload::Release(uint64_t op_id) {
  auto it = ops_.find(op_id);
  if (it != ops_.end() && it->second.ranges == 0 && it->second.state != State::kPending) {
    ops_.erase(it);
  }
}

bool Workload::Synced(const Module& mod, const Op& op) const {
  auto bound = [&](const std::string& path) {
    auto it = mod.synced_upto.find(path);
    return it == mod.synced_upto.end() ? uint64_t{0} : it->second;
  };
  return op.synced || (!op.alone && op.ack_seq < std::max(bound(""), bound(op.path)));
}

void Workload::Completed(uint64_t op_id, const absl::Status& status, bool alone) {
  auto it = ops_.find(op_id);
  if (it == ops_.end() || it->second.state != State::kPending) return;
  Op& op = it->second;
  Module& mod = modules_[op.module];
  --mod.outstanding;
  if (!status.ok()) {
    op.state = State::kFailed;
  } else {
    ++acknowledged_;
    op.state = State::kAcked;
    op.ack_seq = mod.next_ack_seq++;
    op.alone = alone;
    if (mod.discarding && op.node == mod.discarding_node) op.state = State::kUncertain;
    if (op.sync) op.synced = true;  // durable where it was acknowledged, as after an fsync
    if (op.kind == MutationKind::kFsync && mod.discarding) {
      // Two writers: an fsync makes durable what its own node wrote, not the other's.
      for (auto& [id, other] : ops_) {
        if (other.module == op.module && other.node == op.node && other.state == State::kAcked &&
            other.ack_seq < op.covers_upto && (op.path.empty() || other.path == op.path)) {
          other.synced = true;
        }
      }
    } else if (op.kind == MutationKind::kFsync) {
      uint64_t& upto = mod.synced_upto[op.path];
      upto = std::max(upto, op.covers_upto);
      // Writes its node acknowledged alone are covered by that node's fsyncs only (the other
      // node may serve meanwhile, a split brain not yet seen, and never held them).
      for (auto& [id, other] : ops_) {
        if (other.module == op.module && other.node == op.node && other.alone &&
            other.state == State::kAcked && other.ack_seq < op.covers_upto &&
            (op.path.empty() || other.path == op.path)) {
          other.synced = true;
        }
      }
    }
  }
  if (!op.verified || op.ranges == 0) ops_.erase(it);
}

void Workload::NodeDown(NodeIndex n) {
  for (auto it = ops_.begin(); it != ops_.end();) {
    Op& op = it->second;
    if (op.state != State::kPending || op.node != n) {
      ++it;
      continue;
    }
    --modules_[op.module].outstanding;
    op.state = State::kFailed;
    if (!op.verified || op.ranges == 0) {
      it = ops_.erase(it);
    } else {
      ++it;
    }
  }
}

void Workload::LoseUnsynced(ModuleIndex m) {
  for (auto& [id, op] : ops_) {
    if (op.module == m && op.state == State::kAcked && !Synced(modules_[m], op)) {
      op.state = State::kUncertain;
    }
  }
}

void Workload::DiscardFrom(ModuleIndex m, NodeIndex n) {
  modules_[m].discarding = true;
  modules_[m].discarding_node = n;
  for (auto& [id, op] : ops_) {
    if (op.module == m && op.node == n && op.state == State::kAcked) op.state = State::kUncertain;
  }
}

void Workload::Resolved(ModuleIndex m) {
  if (modules_[m].discarding) DiscardFrom(m, modules_[m].discarding_node);
  modules_[m].discarding = false;
}

void Workload::LoseAll(ModuleIndex m) {
  for (auto& [id, op] : ops_) {
    if (op.module == m && op.state == State::kAcked) op.state = State::kUncertain;
  }
}

std::vector<Workload::Loss> Workload::Verify(ModuleIndex m, const MemStore::Tree& tree) {
  std::vector<Loss> losses;
  Module& mod = modules_[m];
  std::map<uint64_t, bool> verified;  // op -> every byte found
  for (const auto& [path, ranges] : mod.files) {
    auto file = tree.find(path);
    for (const auto& [start, range] : ranges) {
      const Op& op = ops_.at(range.op);
      if (op.state != State::kAcked) continue;
      const FileData* data = file == tree.end() ? nullptr : &file->second.data;
      // A keep-size punch or zero range past the end leaves nothing there to check.
      const bool keeps_size =
          op.kind == MutationKind::kFallocate && (op.fallocate_mode & kFallocateKeepSize) != 0;
      const uint64_t end =
          keeps_size && data != nullptr ? std::min(range.end, data->size()) : range.end;
      bool intact = data != nullptr && data->size() >= end;
      uint64_t first_bad = start;
      if (intact && end > start) {
        first_bad = data->FindMismatch(
            start, std::string_view(*op.data).substr(start - op.offset, end - start));
        intact = first_bad == FileData::kNoMismatch;
      }
      verified.try_emplace(range.op, true);
      if (intact) continue;
      verified[range.op] = false;
      losses.push_back(
          Loss{absl::StrCat("module m", m, ": ", path, " bytes ", start, "..", range.end,
                            " should hold ", MutationKindName(op.kind), " op ", range.op,
                            " (offset ", op.offset, ", ", op.data->size(),
                            " bytes, acknowledged by node ", static_cast<int>(op.node), ") but ",
                            data == nullptr ? "the file is missing"
                            : data->size() < range.end
                                ? absl::StrCat("the file is only ", data->size(), " bytes long")
                                : absl::StrCat("byte ", first_bad, " differs")),
               Synced(mod, op)});
    }
  }
  for (const auto& [op, ok] : verified) {
    if (ok) ++writes_verified_;
  }
  return losses;
}

}  // namespace duet::sim
