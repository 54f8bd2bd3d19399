// Stateful property of replication: random writes of all sizes (overlapping, extending
// files), fsyncs, crashes of either node (some tearing unsynced pages), disk faults (fsync
// failing with EIO as Linux fails it, a full disk), disconnects and reconnects, and planned
// swaps, checked against a reference model of what was acknowledged. After healing:
//  - both replicas are byte-identical;
//  - every byte of every acknowledged write is there, unless a later write that was never
//    acknowledged (its node crashed) may have covered it;
//  - the survivor of a crash takes over only if its copy is up to date;
//  - resync sent only zones that some write touched (incremental, never whole files), but
//    for names a namespace or attribute change touched (those may come whole).
// Namespace commands (mkdir, create, rename, link, symlink, unlink, rmdir, chmod/chown/
// utimens) change scratch names and the verified files' attributes, never their bytes.
// Faults hit the replication connection; the heartbeat channel of the Node stays up and
// carries the primary's "writing alone" to the peer (MarkOutdated) and the peer's verdict
// back (OnPeerOutdated), as Node does. Partitions of every link are the simulator's (with a
// witness) and the failover tests' business.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_harness.h"

namespace duet {
namespace {

constexpr uint32_t kZone = 4096;
constexpr int kFiles = 3;

// What a file must contain: per byte, the acknowledged value, or unknown (nullopt) where an
// unacknowledged write may or may not have landed.
struct FileModel {
  std::vector<std::optional<char>> bytes;
  // Per byte, which acknowledged write set it: a crash keeps a byte only if the write that
  // set it was covered by an fsync (the value alone may repeat an older one).
  std::vector<uint64_t> version;
  uint64_t certain_size = 0;   // at least this long
  uint64_t possible_size = 0;  // at most this long
};

struct Model {
  std::map<std::string, FileModel> files;
  // Writes issued and not acknowledged yet, per node: they become certain when acknowledged
  // and uncertain when their node crashes first.
  struct Pending {
    std::string path;
    uint64_t offset;
    std::string data;
  };
  std::map<uint64_t, Pending> pending[2];
  // op -> path ("" = everything) and the acknowledged files when it was issued: an fsync
  // covers what was written before it was called, not what completes later.
  std::map<uint64_t, std::pair<std::string, std::map<std::string, FileModel>>> pending_fsyncs[2];
  // The files as of their last completed fsync: all a crash of the only good copy keeps.
  std::map<std::string, FileModel> synced;

  void IssueFsync(int node, uint64_t op, const std::string& path) {
    pending_fsyncs[node][op] = {path, files};
  }
  void AcknowledgeFsync(int node, uint64_t op) {
    auto it = pending_fsyncs[node].find(op);
    if (it == pending_fsyncs[node].end()) return;
    const auto& [which, snapshot] = it->second;
    for (const auto& [path, f] : snapshot) {
      if (which.empty() || which == path) synced[path] = f;
    }
    pending_fsyncs[node].erase(it);
  }
  // The node that crashed is the only copy that can serve next: what was not fsynced may
  // be gone (as on any single machine).
  void FallBackToSynced() {
    for (auto& [path, f] : files) {
      const FileModel& s = synced[path];
      for (size_t i = 0; i < f.bytes.size(); ++i) {
        if (i >= s.bytes.size() || s.version[i] != f.version[i]) f.bytes[i].reset();
      }
      f.certain_size = std::min(f.certain_size, s.certain_size);
    }
  }

  // The bytes of write `op` hold its data (`landed`) or are unknown from now on.
  void Settle(uint64_t op, const Pending& p, bool landed) {
    FileModel& f = files[p.path];
    if (f.bytes.size() < p.offset + p.data.size()) {
      f.bytes.resize(p.offset + p.data.size());
      f.version.resize(p.offset + p.data.size());
    }
    for (size_t i = 0; i < p.data.size(); ++i) {
      if (landed) {
        f.bytes[p.offset + i] = p.data[i];
      } else {
        f.bytes[p.offset + i].reset();
      }
      f.version[p.offset + i] = op;
    }
    if (landed) f.certain_size = std::max<uint64_t>(f.certain_size, p.offset + p.data.size());
  }
  void Issue(int node, uint64_t op, const std::string& path, uint64_t offset, std::string data) {
    FileModel& f = files[path];
    f.possible_size = std::max<uint64_t>(f.possible_size, offset + data.size());
    pending[node][op] = Pending{path, offset, std::move(data)};
  }
  void Acknowledge(int node, uint64_t op) {
    auto it = pending[node].find(op);
    if (it == pending[node].end()) return;
    Settle(op, it->second, /*landed=*/true);
    pending[node].erase(it);
  }
  // A write that failed (a full disk) may or may not have landed anywhere.
  void Fail(int node, uint64_t op) {
    auto it = pending[node].find(op);
    if (it == pending[node].end()) return;
    Settle(op, it->second, /*landed=*/false);
    pending[node].erase(it);
  }
  void Lose(int node) {
    for (const auto& [op, p] : pending[node]) Settle(op, p, /*landed=*/false);
    pending[node].clear();
    pending_fsyncs[node].clear();
  }
};

enum class Cmd : int {
  kWrite,
  kFsync,
  kDisconnect,
  kConnect,
  kCrash,
  kSwap,
  kTime,
  kPump,
  kDisk,
  kNames,  // a namespace or attribute change beside the verified files
  kCount
};

struct Step {
  Cmd cmd;
  int file;
  uint64_t offset;
  int size_class;
  int arg;
};

void showValue(const Step& s, std::ostream& os) {
  static const char* names[] = {"write", "fsync", "disconnect", "connect", "crash",
                                "swap",  "time",  "pump",       "disk",    "names"};
  os << names[static_cast<int>(s.cmd)] << "(file " << s.file << ", offset " << s.offset
     << ", size class " << s.size_class << ", arg " << s.arg << ")";
}

rc::Gen<Step> GenStep() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange(0, static_cast<int>(Cmd::kCount) + 4),
                     rc::gen::inRange(0, kFiles), rc::gen::inRange<uint64_t>(0, 40 * kZone),
                     rc::gen::inRange(0, 4), rc::gen::inRange(0, 1000)),
      [](const std::tuple<int, int, uint64_t, int, int>& t) {
        int c = std::get<0>(t);
        if (c >= static_cast<int>(Cmd::kCount)) c = 0;  // writes are the common case
        return Step{static_cast<Cmd>(c), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                    std::get<4>(t)};
      });
}

// What the kernel asks a file system for: a new name only under an existing directory, a
// change only of an existing name. (MemStore is a flat map and would take a file under a
// missing directory, a tree no real file system holds.)
bool KernelWouldSend(const sim::MemStore::Tree& tree, const Mutation& m) {
  auto is_dir = [&](const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return true;  // the module's root
    auto it = tree.find(path.substr(0, slash));
    return it != tree.end() && it->second.kind == PathKind::kDirectory;
  };
  switch (m.kind) {
    case MutationKind::kMkdir:
    case MutationKind::kCreate:
    case MutationKind::kSymlink:
      return is_dir(m.path) && !tree.contains(m.path);
    case MutationKind::kRename:
      // renameat2: NOREPLACE onto a name is EEXIST, EXCHANGE with a missing one ENOENT.
      if ((m.rename_flags & kRenameNoReplace) != 0 && tree.contains(m.path2)) return false;
      if (m.is_exchange() && !tree.contains(m.path2)) return false;
      return tree.contains(m.path) && is_dir(m.path2);
    case MutationKind::kLink:
      return tree.contains(m.path) && is_dir(m.path2);
    default:
      return tree.contains(m.path);
  }
}

// A namespace or attribute change: scratch names only, and the verified files' attributes.
Mutation NamespaceChange(const Step& s) {
  const std::string file = "f" + std::to_string(s.file);
  Mutation m;
  switch (s.arg % 9) {
    case 0:
      m = MakeMutation(MutationKind::kMkdir, "d \u00e9");
      m.mode = 0750;
      m.uid = 26;
      break;
    case 1:
      m = MakeMutation(MutationKind::kCreate, "d \u00e9/s");
      m.mode = 0600;
      m.gid = 1000;
      break;
    case 2:
      m = MakeMutation(MutationKind::kRename, "d \u00e9/s", "s");
      // renameat2's flags: a plain rename, a no-replace one, or an exchange of the two.
      if (s.size_class == 1) m.rename_flags = kRenameNoReplace;
      if (s.size_class == 2) m.rename_flags = kRenameExchange;
      break;
    case 3:
      m = MakeMutation(MutationKind::kRename, "s", "d \u00e9/s");
      // ... or the file exchanged with the directory that holds the other name.
      if (s.size_class == 3) m = MakeMutation(MutationKind::kRename, "s", "d \u00e9");
      if (s.size_class >= 2) m.rename_flags = kRenameExchange;
      break;
    case 4:
      // A file never written: MemStore's links are copies (issue 12, item 7), which only
      // agree with one inode under two names while the linked content never changes.
      m = MakeMutation(MutationKind::kLink, "d \u00e9/s", "link s");
      break;
    case 5:
      m = MakeMutation(MutationKind::kSymlink, "l", file);
      m.uid = 7;
      break;
    case 6:
      m = MakeMutation(MutationKind::kUnlink, s.size_class % 2 ? "s" : "link s");
      break;
    case 7:
      m = MakeMutation(MutationKind::kRmdir, "d \u00e9");
      break;
    default:
      m = MakeMutation(MutationKind::kSetattr, s.size_class % 2 ? file : "d \u00e9");
      m.attr_mask = 1 + static_cast<uint32_t>(s.offset) % kAllAttrs;
      m.mode = static_cast<uint32_t>(s.offset) % 01000;
      m.uid = static_cast<uint32_t>(s.arg);
      m.gid = static_cast<uint32_t>(s.size_class);
      m.atime_ns = static_cast<int64_t>(s.offset) * 1000;
      m.mtime_ns = -static_cast<int64_t>(s.arg);
      break;
  }
  return m;
}

size_t SizeOf(int size_class, int arg) {
  switch (size_class) {
    case 0:
      return 1 + static_cast<size_t>(arg % 16);
    case 1:
      return 512 + static_cast<size_t>(arg);
    case 2:
      return kZone + static_cast<size_t>(arg);  // spans zones
    default:
      return 3 * kZone + static_cast<size_t>(arg) * 7;
  }
}

RC_GTEST_PROP(ReplicaPropertyTest, ReplicasConvergeAndKeepEveryAcknowledgedWrite, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(GenStep());
  ReplicaOptions options;
  options.zone_size = kZone;
  options.timeout = absl::Seconds(3);
  options.window_count = 8;
  ReplicaPair pair(options);
  Model model;
  std::set<std::pair<std::string, uint64_t>> written_zones;  // by any write, acknowledged or not
  std::set<std::string> whole_names;  // touched by a namespace or attribute change
  int primary = 0;
  bool connected = true;
  bool up[2] = {true, true};
  pair.SetRole(0, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();

  auto harvest = [&] {
    for (int n = 0; n < 2; ++n) {
      for (auto it = model.pending[n].begin(); it != model.pending[n].end();) {
        const uint64_t op = (it++)->first;
        if (pair.Completed(n, op)) {
          const absl::Status result = pair.Result(n, op);
          if (result.ok()) {
            model.Acknowledge(n, op);
          } else {
            // A full disk, or fenced by a handover to the copy that survives.
            RC_ASSERT(result.code() == absl::StatusCode::kResourceExhausted ||
                      result.code() == absl::StatusCode::kAborted);
            model.Fail(n, op);
          }
        }
      }
      for (auto it = model.pending_fsyncs[n].begin(); it != model.pending_fsyncs[n].end();) {
        const uint64_t op = (it++)->first;
        if (pair.Completed(n, op)) {
          const absl::Status result = pair.Result(n, op);
          if (result.ok()) {
            model.AcknowledgeFsync(n, op);
          } else {
            RC_ASSERT(result.code() == absl::StatusCode::kDataLoss ||  // EIO
                      result.code() == absl::StatusCode::kAborted);    // fenced
            model.pending_fsyncs[n].erase(op);
          }
        }
      }
    }
  };

  // What Node does when the handshake chose the secondary's copy (a split brain's policy, or
  // writes it acknowledged alone): the primary hands the module over once that copy is up to
  // date, its writes held for an outdate failing (they would be discarded).
  auto HandOverToTheSurvivingCopy = [&] {
    const int other = 1 - primary;
    if (!pair.replica(primary).peer_copy_survives() ||
        pair.replica(other).data_state() != DataState::kUpToDate) {
      return;
    }
    pair.Fence(primary);
    harvest();
    if (!pair.replica(primary).drained()) return;
    pair.SetRole(primary, ReplRole::kSecondary);
    primary = other;
    pair.SetRole(primary, ReplRole::kPrimary);
  };

  for (const Step& s : steps) {
    switch (s.cmd) {
      case Cmd::kWrite: {
        if (pair.replica(primary).role() != ReplRole::kPrimary) break;
        const std::string path = "f" + std::to_string(s.file);
        std::string data(SizeOf(s.size_class, s.arg), static_cast<char>('a' + s.arg % 26));
        for (uint64_t z = s.offset / kZone; z <= (s.offset + data.size() - 1) / kZone; ++z) {
          written_zones.emplace(path, z);
        }
        const uint64_t op = pair.Write(primary, path, s.offset, data);
        model.Issue(primary, op, path, s.offset, std::move(data));
        break;
      }
      case Cmd::kFsync:
        if (pair.replica(primary).role() == ReplRole::kPrimary) {
          const std::string path = s.arg % 2 ? "" : "f0";
          const uint64_t op = pair.Submit(primary, MakeMutation(MutationKind::kFsync, path));
          model.IssueFsync(primary, op, path);
        }
        break;
      case Cmd::kDisconnect:
        if (connected) {
          pair.Disconnect();
          connected = false;
        }
        break;
      case Cmd::kConnect:
        if (!connected) {
          pair.Connect();
          connected = true;
        }
        break;
      case Cmd::kCrash: {
        const int victim = s.arg % 2;
        harvest();
        model.Lose(victim);
        if (connected) {
          pair.Disconnect();
          connected = false;
        }
        if (s.size_class % 2 == 1) {
          pair.Crash(victim, static_cast<uint64_t>(s.offset));  // torn
        } else {
          pair.Crash(victim);
        }
        // The survivor takes over only if its copy is up to date (as Node requires).
        if (victim == primary && pair.replica(1 - primary).data_state() == DataState::kUpToDate) {
          primary = 1 - primary;
          pair.SetRole(primary, ReplRole::kPrimary);
        } else if (victim == primary) {
          // No up-to-date survivor: the crashed node comes back and serves again (an admin
          // would force it); what it had not fsynced may be gone.
          model.FallBackToSynced();
          pair.SetRole(victim, ReplRole::kPrimary);
        }
        up[victim] = true;
        break;
      }
      case Cmd::kSwap:
        pair.Pump();
        harvest();
        if (connected && pair.replica(primary).drained() &&
            pair.replica(1 - primary).data_state() == DataState::kUpToDate &&
            pair.replica(primary).attached()) {
          pair.SetRole(primary, ReplRole::kSecondary);
          primary = 1 - primary;
          pair.SetRole(primary, ReplRole::kPrimary);
        }
        break;
      case Cmd::kTime:
        pair.Advance(absl::Milliseconds(100 + s.arg * 5));
        break;
      case Cmd::kPump:
        pair.Pump(static_cast<size_t>(s.arg % 50));
        break;
      case Cmd::kDisk: {
        auto& side = pair.side(s.arg % 2);
        switch ((s.arg / 2) % 3) {
          case 0:
            side.store.set_sync_failure(true);
            break;
          case 1:
            side.fail_writes = true;
            break;
          default:
            side.store.set_sync_failure(false);
            side.fail_writes = false;
            break;
        }
        break;
      }
      case Cmd::kNames:
        if (pair.replica(primary).role() == ReplRole::kPrimary &&
            KernelWouldSend(pair.side(primary).store.live(), NamespaceChange(s))) {
          const Mutation m = NamespaceChange(s);
          // A name a namespace change touches may be resynced whole (a change that failed
          // on one side, a link's new name): the zone check leaves such names out.
          ForEachChangedName(m, [&](const std::string& path) { whole_names.insert(path); });
          pair.Submit(primary, m);
        }
        break;
      case Cmd::kCount:
        break;
    }
    // What Node does over the heartbeat links after every input.
    HandOverToTheSurvivingCopy();
    const int other = 1 - primary;
    if (pair.replica(primary).writing_alone()) {
      pair.MarkOutdated(other);
      if (pair.replica(other).data_state() != DataState::kUpToDate) pair.PeerOutdated(primary);
    }
    harvest();
  }
  (void)up;
  // Heal: disks work again, connect, let everything finish.
  for (int n = 0; n < 2; ++n) {
    pair.side(n).store.set_sync_failure(false);
    pair.side(n).fail_writes = false;
  }
  if (!connected) pair.Connect();
  for (int i = 0; i < 300; ++i) {
    pair.Pump();
    harvest();
    HandOverToTheSurvivingCopy();
    pair.Advance(absl::Milliseconds(100));
    if (pair.replica(primary).writing_alone()) {
      pair.MarkOutdated(1 - primary);
      pair.PeerOutdated(primary);
    }
  }
  pair.Pump();
  harvest();
  RC_ASSERT(model.pending[0].empty() && model.pending[1].empty());
  const std::string diff = pair.Difference();
  if (!diff.empty()) RC_FAIL(diff + pair.Log(0) + pair.Log(1));
  for (const auto& [path, f] : model.files) {
    const auto& tree = pair.side(primary).store.live();
    auto it = tree.find(path);
    if (f.certain_size == 0 && it == tree.end()) continue;
    RC_ASSERT(it != tree.end());
    const sim::FileData& data = it->second.data;
    RC_ASSERT(data.size() >= f.certain_size);
    RC_ASSERT(data.size() <= f.possible_size);
    for (size_t i = 0; i < f.bytes.size() && i < data.size(); ++i) {
      if (f.bytes[i] && data[i] != *f.bytes[i]) {
        RC_FAIL("acknowledged byte lost: " + path + " at " + std::to_string(i));
      }
    }
  }
  // Resync is incremental: it sends only zones that some write touched, never whole files.
  for (int n = 0; n < 2; ++n) {
    for (const auto& [path, zone] : pair.side(n).zones_resynced) {
      if (!written_zones.contains({path, zone}) && !whole_names.contains(path)) {
        RC_FAIL(absl::StrCat("resync sent ", path, " zone ", zone, " that no write touched"));
      }
    }
  }
  if (pair.replica(1 - primary).data_state() != DataState::kUpToDate) {
    RC_FAIL("the secondary did not become up to date\n" + pair.Log(0) + pair.Log(1));
  }
}

}  // namespace
}  // namespace duet
