#include "adapters/metadata/metadata_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/overloaded.h"
#include "engine/status_macros.h"

namespace duet::metadata {
namespace {

constexpr char kMetadataDir[] = "metadata";
constexpr char kNodeFile[] = "node.log";
// Records per frame in a snapshot: a snapshot is replaced whole, so its frames need not be
// batches; this keeps each frame far below the codec's limit.
constexpr size_t kSnapshotBatchRecords = 4096;
// node.log gets one record per start: rewritten at Open once it holds this many.
constexpr size_t kNodeLogMaxRecords = 64;

std::string FileNameOf(const std::string& module) {
  std::string out = "module-";
  for (const char c : module) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '_' ||
        c == '-' || c == '.') {
      out += c;
    } else {
      out += absl::StrFormat("%%%02X", u);
    }
  }
  return out + ".log";
}

// Creates `path` (and missing parents) with mode 0700; an existing directory is kept as is.
absl::Status MakeDirectory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(path + " exists and is not a directory");
    }
    return absl::OkStatus();
  }
  if (errno != ENOENT) return ErrnoStatus(errno, "stat of " + path);
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    DUET_RETURN_IF_ERROR(MakeDirectory(path.substr(0, slash)));
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "creating directory " + path);
  }
  // mkdir's mode passes through the umask: set it exactly.
  if (::chmod(path.c_str(), 0700) != 0) return ErrnoStatus(errno, "chmod of " + path);
  return absl::OkStatus();
}

absl::Status Corrupt(const std::string& path, uint64_t record, const std::string& what) {
  return absl::DataLossError(
      absl::StrCat("metadata record ", record, " of ", path, " is corrupt (", what, ")"));
}

absl::Status CorruptFrame(const std::string& path, const ScannedFile& scanned) {
  return absl::DataLossError(absl::StrCat("metadata frame ", *scanned.corrupt_frame, " at offset ",
                                          scanned.corrupt_offset, " of ", path, " is corrupt (",
                                          scanned.corruption, ")"));
}

}  // namespace

std::vector<ModuleSpec> ModuleSpecs(const Config& config) {
  std::vector<ModuleSpec> specs;
  for (const ModuleConfig& m : config.modules) specs.push_back({m.name, m.zone_size});
  return specs;
}

MetadataStore::MetadataStore(int dir_fd, StoreOptions options)
    : dir_fd_(dir_fd), options_(options) {}

MetadataStore::~MetadataStore() { ::close(dir_fd_); }

absl::StatusOr<Recovered> MetadataStore::Open(const std::string& state_dir,
                                              std::vector<ModuleSpec> modules,
                                              StoreOptions options) {
  if (state_dir.empty()) return absl::InvalidArgumentError("state_dir is empty");
  DUET_RETURN_IF_ERROR(MakeDirectory(state_dir));
  const std::string dir = state_dir + "/" + kMetadataDir;
  DUET_RETURN_IF_ERROR(MakeDirectory(dir));
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoStatus(errno, "opening " + dir);
  // Check writability now, with a clear message, rather than at the first persist.
  if (::faccessat(dir_fd, ".", W_OK, AT_EACCESS) != 0) {
    const int err = errno;
    ::close(dir_fd);
    return ErrnoStatus(err, dir + " is not writable");
  }
  Recovered out;
  out.store.reset(new MetadataStore(dir_fd, options));
  MetadataStore& store = *out.store;
  const auto path_of = [&](const std::string& name) { return dir + "/" + name; };

  // A snapshot written beside its file when the process stopped: the old file still holds
  // everything (the rename never happened).
  ::unlinkat(dir_fd, (std::string(kNodeFile) + ".new").c_str(), 0);

  // The node file: its incarnation.
  {
    absl::StatusOr<ScannedFile> scanned = ScanFile(dir_fd, kNodeFile);
    if (!scanned.ok() && absl::IsNotFound(scanned.status())) {
      DUET_RETURN_IF_ERROR(ReplaceFile(dir_fd, kNodeFile, {}));
      scanned = ScanFile(dir_fd, kNodeFile);
    }
    if (!scanned.ok()) return scanned.status();
    if (scanned->bad_header) {
      return absl::DataLossError(path_of(kNodeFile) + " is not a Duet metadata file (bad header)");
    }
    if (scanned->corrupt_frame) {
      return CorruptFrame(path_of(kNodeFile), *scanned);
    }
    for (size_t i = 0; i < scanned->payloads.size(); ++i) {
      absl::StatusOr<wire::StoredRecord> r = wire::DecodeRecord(scanned->payloads[i]);
      const auto* inc = r.ok() ? std::get_if<PersistIncarnation>(&*r) : nullptr;
      if (inc == nullptr) {
        return Corrupt(path_of(kNodeFile), i + 1,
                       r.ok() ? "not an incarnation record" : std::string(r.status().message()));
      }
      store.incarnation_ = inc->incarnation;
    }
    out.persisted.incarnation = store.incarnation_;
    if (scanned->torn_tail) {
      DUET_RETURN_IF_ERROR(TruncateFile(dir_fd, kNodeFile, scanned->valid_bytes));
      out.notes.push_back(absl::StrCat("dropped a torn append at the end of ", path_of(kNodeFile),
                                       " (", scanned->file_bytes - scanned->valid_bytes,
                                       " bytes from offset ", scanned->valid_bytes, ")"));
    }
    if (scanned->payloads.size() > kNodeLogMaxRecords) {
      DUET_RETURN_IF_ERROR(ReplaceFile(
          dir_fd, kNodeFile, {wire::EncodeRecord(PersistIncarnation{store.incarnation_})}));
    }
    DUET_ASSIGN_OR_RETURN(AppendFile log, AppendFile::Open(dir_fd, kNodeFile));
    store.node_log_.emplace(std::move(log));
  }

  // The modules, each on its own.
  for (ModuleSpec& spec : modules) {
    ModuleFile& mod = store.modules_.emplace_back();
    mod.file = FileNameOf(spec.name);
    mod.spec = std::move(spec);
    const std::string& name = mod.spec.name;
    const std::string path = path_of(mod.file);
    ::unlinkat(dir_fd, (mod.file + ".new").c_str(), 0);
    absl::StatusOr<ScannedFile> scanned = ScanFile(dir_fd, mod.file);
    if (!scanned.ok() && absl::IsNotFound(scanned.status())) {
      DUET_RETURN_IF_ERROR(ReplaceFile(dir_fd, mod.file, {}));
      scanned = ScanFile(dir_fd, mod.file);
    }
    if (!scanned.ok()) return scanned.status();
    std::string problem;
    if (scanned->bad_header) {
      problem = "metadata file " + path + " is corrupt (its header is not Duet's)";
    } else if (scanned->corrupt_frame) {
      problem = std::string(CorruptFrame(path, *scanned).message());
    }
    for (size_t i = 0; problem.empty() && i < scanned->payloads.size(); ++i) {
      absl::StatusOr<wire::StoredRecord> r = wire::DecodeRecord(scanned->payloads[i]);
      if (!r.ok()) {
        problem = std::string(Corrupt(path, i + 1, std::string(r.status().message())).message());
        break;
      }
      std::visit(
          Overloaded{
              [&](const PersistedModule& m) { mod.record = m; },
              [&](const PersistIncarnation&) {
                problem = std::string(
                    Corrupt(path, i + 1, "an incarnation record in a module file").message());
              },
              [&](const wire::ReplicaBatch& batch) {
                for (const ReplicaRecord& rec : batch) {
                  ApplyRecord(mod.replica, rec, mod.spec.zone_size);
                }
                mod.has_replica = true;
              },
          },
          *r);
    }
    if (!problem.empty()) {
      mod.problem = true;
      out.persisted.problems[name] = problem;
      out.notes.push_back(absl::StrCat("module ", name, ": ", problem,
                                       "; it waits for the admin, and its file is kept as is"));
      continue;
    }
    if (scanned->torn_tail) {
      DUET_RETURN_IF_ERROR(TruncateFile(dir_fd, mod.file, scanned->valid_bytes));
      out.notes.push_back(absl::StrCat("module ", name, ": dropped a torn append at the end of ",
                                       path, " (", scanned->file_bytes - scanned->valid_bytes,
                                       " bytes from offset ", scanned->valid_bytes, ")"));
    }
    if (mod.record) out.persisted.modules[name] = *mod.record;
    if (mod.has_replica) out.persisted.replicas[name] = mod.replica;
    DUET_ASSIGN_OR_RETURN(AppendFile log, AppendFile::Open(dir_fd, mod.file));
    mod.snapshot_bytes = log.size();
    mod.log.emplace(std::move(log));
  }
  return out;
}

absl::Status MetadataStore::Checked(ModuleIndex module) const {
  if (!failed_.ok()) return failed_;
  if (module >= modules_.size()) {
    return absl::FailedPreconditionError(absl::StrCat("no module with index ", module));
  }
  if (modules_[module].problem) {
    return absl::FailedPreconditionError(absl::StrCat(
        "module ", modules_[module].spec.name, " has corrupt metadata: its file is not written"));
  }
  return absl::OkStatus();
}

absl::Status MetadataStore::Failed(const absl::Status& status) {
  failed_ = absl::FailedPreconditionError(absl::StrCat(
      "an earlier append failed (", status.message(), "): restart to recover the metadata"));
  return status;
}

absl::Status MetadataStore::AppendTo(ModuleIndex module,
                                     std::span<const std::vector<uint8_t>> payloads) {
  ModuleFile& mod = modules_[module];
  if (absl::Status status = mod.log->AppendBatch(payloads); !status.ok()) return Failed(status);
  if (mod.log->size() > options_.compact_bytes && mod.log->size() > 2 * mod.snapshot_bytes) {
    return Compact(module);
  }
  return absl::OkStatus();
}

absl::Status MetadataStore::AppendToNodeLog(std::span<const std::vector<uint8_t>> payloads,
                                            uint64_t incarnation) {
  if (absl::Status status = node_log_->AppendBatch(payloads); !status.ok()) return Failed(status);
  incarnation_ = incarnation;
  return absl::OkStatus();
}

// Kept in memory before the append: a compaction it triggers snapshots the state with it.
std::vector<uint8_t> MetadataStore::Take(const PersistModule& action) {
  modules_[action.module].record = action.record;
  return wire::EncodeRecord(action.record);
}

std::vector<uint8_t> MetadataStore::Take(const PersistReplica& action) {
  ModuleFile& mod = modules_[action.module];
  for (const ReplicaRecord& r : action.records) ApplyRecord(mod.replica, r, mod.spec.zone_size);
  mod.has_replica = true;
  return wire::EncodeRecord(action.records);
}

absl::Status MetadataStore::Append(const PersistModule& action) {
  DUET_RETURN_IF_ERROR(Checked(action.module));
  const std::vector<uint8_t> payload[] = {Take(action)};
  return AppendTo(action.module, payload);
}

absl::Status MetadataStore::Append(const PersistReplica& action) {
  DUET_RETURN_IF_ERROR(Checked(action.module));
  const std::vector<uint8_t> payload[] = {Take(action)};
  return AppendTo(action.module, payload);
}

absl::Status MetadataStore::Append(const PersistIncarnation& action) {
  if (!failed_.ok()) return failed_;
  const std::vector<uint8_t> payload[] = {wire::EncodeRecord(action)};
  return AppendToNodeLog(payload, action.incarnation);
}

absl::Status MetadataStore::Append(const Action& action) {
  return AppendGroup(std::span<const Action>(&action, 1));
}

absl::Status MetadataStore::AppendGroup(std::span<const Action> actions) {
  if (!failed_.ok()) return failed_;
  // Every action checked before anything is kept or written: a refusal changes nothing.
  for (const Action& action : actions) {
    DUET_RETURN_IF_ERROR(std::visit(Overloaded{
                                        [&](const PersistModule& a) { return Checked(a.module); },
                                        [&](const PersistReplica& a) { return Checked(a.module); },
                                        [](const PersistIncarnation&) { return absl::OkStatus(); },
                                        [](const auto&) {
                                          return absl::InvalidArgumentError(
                                              "not a Persist action: nothing for the store");
                                        },
                                    },
                                    action));
  }
  // Each run of consecutive actions for one file is one frame and one fdatasync, the runs
  // in order, so that a crash keeps a prefix of the actions, as one by one (C4: each is
  // durable before the next is carried out). Each run is kept in memory just before its
  // write: a compaction it triggers snapshots nothing not yet written.
  const auto file_of = [](const Action& action) -> std::optional<ModuleIndex> {
    if (const auto* m = std::get_if<PersistModule>(&action)) return m->module;
    if (const auto* r = std::get_if<PersistReplica>(&action)) return r->module;
    return std::nullopt;  // node.log
  };
  for (size_t begin = 0; begin < actions.size();) {
    const std::optional<ModuleIndex> file = file_of(actions[begin]);
    std::vector<std::vector<uint8_t>> payloads;
    uint64_t incarnation = incarnation_;
    size_t end = begin;
    for (; end < actions.size() && file_of(actions[end]) == file; ++end) {
      std::visit(Overloaded{
                     [&](const PersistModule& a) { payloads.push_back(Take(a)); },
                     [&](const PersistReplica& a) { payloads.push_back(Take(a)); },
                     [&](const PersistIncarnation& a) {
                       payloads.push_back(wire::EncodeRecord(a));
                       incarnation = a.incarnation;
                     },
                     [](const auto&) {},
                 },
                 actions[end]);
    }
    DUET_RETURN_IF_ERROR(file ? AppendTo(*file, payloads) : AppendToNodeLog(payloads, incarnation));
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status MetadataStore::Compact(ModuleIndex module) {
  DUET_RETURN_IF_ERROR(Checked(module));
  ModuleFile& mod = modules_[module];
  std::vector<std::vector<uint8_t>> payloads;
  if (mod.record) payloads.push_back(wire::EncodeRecord(*mod.record));
  if (mod.has_replica) {
    const std::vector<ReplicaRecord> records = ToRecords(mod.replica);
    for (size_t i = 0; i < records.size(); i += kSnapshotBatchRecords) {
      const size_t end = std::min(records.size(), i + kSnapshotBatchRecords);
      payloads.push_back(
          wire::EncodeRecord(wire::ReplicaBatch(records.begin() + i, records.begin() + end)));
    }
  }
  absl::Status status = ReplaceFile(dir_fd_, mod.file, payloads);
  if (status.ok()) {
    absl::StatusOr<AppendFile> log = AppendFile::Open(dir_fd_, mod.file);
    if (log.ok()) {
      mod.snapshot_bytes = log->size();
      mod.log.emplace(*std::move(log));
      return absl::OkStatus();
    }
    status = log.status();
  }
  // The old file (or, after the rename, the new one) holds everything: but where the next
  // append would go is unsure, so none goes.
  failed_ = absl::FailedPreconditionError(absl::StrCat("compaction of ", mod.file, " failed (",
                                                       status.message(),
                                                       "): restart to recover the metadata"));
  return status;
}

uint64_t MetadataStore::FileBytes(ModuleIndex module) const {
  return module < modules_.size() && modules_[module].log ? modules_[module].log->size() : 0;
}

std::string MetadataStore::FileOf(ModuleIndex module) const {
  return module < modules_.size() ? std::string(kMetadataDir) + "/" + modules_[module].file : "";
}

}  // namespace duet::metadata
