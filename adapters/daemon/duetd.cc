#include "adapters/daemon/duetd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/daemon/boot_id.h"
#include "adapters/daemon/existing_data.h"
#include "adapters/daemon/status_format.h"
#include "adapters/process/script_environment.h"
#include "adapters/store/backing_store.h"
#include "engine/overloaded.h"
#include "engine/wire/codec.h"

namespace duet::daemon {
namespace {

// op_ids of a module's i-th mount are (i << kMountShift) + 1, + 2...: unique per module (C10)
// and the mount that answers a CompleteLocal is op_id >> kMountShift.
constexpr int kMountShift = 48;
// Disk workers: a module's operations on different files run at once (C7), so concurrent
// fsyncs share journal commits only with a worker each; most of the time they wait on the
// disk, not on a core.
constexpr int kDiskWorkers = 8;

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", error.message()));
  }
  ::chmod(path.c_str(), mode);
  return absl::OkStatus();
}

// The node's only randomness (the engine's seed) comes from the kernel.
uint64_t RandomSeed() {
  uint64_t seed = 0;
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  urandom.read(reinterpret_cast<char*>(&seed), sizeof seed);
  return seed;
}

// Where a module's divergent branches are kept aside (C5).
std::string DivergentDirOf(const std::string& state_dir, const std::string& module) {
  return absl::StrCat(state_dir, "/modules/", module, "/divergent");
}

}  // namespace

std::string ModuleRootOf(const std::string& state_dir, const std::string& module) {
  return absl::StrCat(state_dir, "/modules/", module, "/data");
}

Duetd::Duetd(boost::asio::io_context& io, Config config, NodeIndex self, DaemonLog& log)
    : io_(io), config_(std::move(config)), self_(self), log_(log) {}

Duetd::~Duetd() { Stop(); }

absl::StatusOr<std::unique_ptr<Duetd>> Duetd::Start(boost::asio::io_context& io, Config config,
                                                    NodeIndex self, DaemonLog& log) {
  std::unique_ptr<Duetd> d(new Duetd(io, std::move(config), self, log));
  absl::Status status = d->Init();
  if (!status.ok()) {
    d->Stop();
    // A Persist of the first step failed: the same fail-stop as later (duetd exits 3).
    if (!d->fatal_.ok()) return absl::AbortedError(d->fatal_.message());
    return status;
  }
  return d;
}

absl::Status Duetd::Init() {
  state_dir_ = config_.StateDirOf(self_);
  if (absl::Status s = MakeDirs(state_dir_, 0700); !s.ok()) return s;
  // One daemon per state directory, checked before anything is touched: a second one would
  // cut the first one's metadata "torn tail", sweep its VIPs and mount over its mounts.
  const std::string lock_path = state_dir_ + "/duetd.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("another duetd runs with the state directory ", state_dir_, " (", lock_path,
                     " is locked)"));
  }

  absl::StatusOr<FailoverHistory> failovers = FailoverHistory::Load(state_dir_);
  if (failovers.ok()) {
    failovers_.emplace(*std::move(failovers));
  } else {
    // Status alone reads it: a damaged file costs the history, not the service.
    log_.Node(absl::StrCat("earlier failovers not shown: ", failovers.status().message()));
    failovers_.emplace(state_dir_);
  }

  absl::StatusOr<net::ClusterKey> key = net::LoadClusterKey(config_.key_file);
  if (!key.ok()) return key.status();
  key_ = *key;

  absl::StatusOr<metadata::Recovered> recovered =
      metadata::MetadataStore::Open(state_dir_, metadata::ModuleSpecs(config_));
  if (!recovered.ok()) return recovered.status();
  for (const std::string& note : recovered->notes) log_.Node(absl::StrCat("metadata: ", note));
  metadata_ = std::move(recovered->store);

  const bool lost_unsynced = MachineRestartedSinceLastRun(state_dir_);
  app_groups_.emplace(RunDirOf(state_dir_));
  if (lost_unsynced) {
    // After a machine restart the recorded group ids name nothing of ours any more.
    for (const ModuleConfig& mc : config_.modules) app_groups_->Forget(mc.name);
  } else {
    // An application left running by an earlier run that had no guard is not ours to serve
    // yet: the engine says when it runs.
    KillAppGroups("left by an earlier run");
  }
  auto node = std::make_unique<Node>(config_, self_, RandomSeed(), std::move(recovered->persisted),
                                     MonotonicNow());
  const uint64_t incarnation = node->incarnation();
  loop_ = std::make_unique<NodeLoop>(io_, std::move(node),
                                     [this](Actions actions) { Execute(std::move(actions)); });
  std::vector<std::string> module_names;
  for (const ModuleConfig& mc : config_.modules) module_names.push_back(mc.name);
  timings_ = std::make_unique<OpTimings>(std::move(module_names), MonotonicNow());
  loop_->Observe(timings_.get());
  datagram_auth_ =
      std::make_unique<net::DatagramAuth>(*key_, config_.cluster_name, self_, incarnation);

  absl::StatusOr<std::unique_ptr<store::ModuleIoQueue>> queue = store::ModuleIoQueue::Start(
      kDiskWorkers,
      [this](Input input) {
        LogStoreRefusal(input);
        loop_->Post(std::move(input));
      },
      [this](ModuleIndex m, absl::StatusOr<std::string> kept) {
        boost::asio::post(io_, [this, m, kept = std::move(kept)]() {
          const std::string& name = config_.modules[m].name;
          if (kept.ok()) {
            log_.Module(name, absl::StrCat("divergent changes kept in ", *kept));
          } else {
            // C5: the queue carries out none of the module's operations until the engine,
            // which logs and shows the failure too, retries; the daemon runs on.
            log_.Module(name, absl::StrCat("keeping the divergent changes aside in ",
                                           DivergentDirOf(state_dir_, name),
                                           " failed: ", kept.status().message(),
                                           "; this module's resync waits"));
          }
        });
      });
  if (!queue.ok()) return queue.status();
  io_queue_ = *std::move(queue);
  disk_ops_ = std::make_unique<DiskOpIssuer>(*io_queue_);

  ScriptRunner::Options script_options;
  script_options.on_started = [this](std::string_view module, pid_t group) {
    RecordAppGroup(module, group);
  };
  scripts_ = std::make_unique<ScriptRunner>(
      io_,
      [this](std::string_view module, std::string_view line) {
        log_.Module(absl::string_view(module.data(), module.size()),
                    absl::string_view(line.data(), line.size()));
      },
      std::move(script_options));

  vip::VipManager::Options vip_options;
  vip_options.on_announcement_failure = [this](const absl::Status& s) {
    log_.Node(std::string(s.message()));
  };
  vips_ = std::make_unique<vip::VipManager>(io_, std::move(vip_options));
  // A VIP left on an interface by an earlier crash of this node is not ours to serve yet.
  std::vector<VipConfig> all_vips;
  for (const ModuleConfig& mc : config_.modules) {
    all_vips.insert(all_vips.end(), mc.vips.begin(), mc.vips.end());
  }
  vip::VipManager::StaleSweep swept = vips_->ReleaseStale(all_vips);
  for (const VipConfig& v : swept.removed) {
    log_.Node(
        absl::StrCat("removed VIP ", v.address, " from ", v.interface, ": left by an earlier run"));
  }
  for (const absl::Status& s : swept.failures) log_.Node(std::string(s.message()));

  if (absl::Status s = OpenModules(); !s.ok()) return s;
  if (absl::Status s = OpenNetwork(); !s.ok()) return s;

  admin_ = std::make_unique<AdminServer>(
      io_,
      [this](uint64_t id, const AdminRequest& r, AdminServer::Respond respond) {
        OnAdmin(id, r, std::move(respond));
      },
      [this](uint64_t id) { pending_admin_.erase(id); });
  if (absl::Status s = admin_->Listen(config_.nodes[self_].admin_socket); !s.ok()) return s;

  log_.Node(absl::StrCat("duetd starting (cluster ", config_.cluster_name, ", state in ",
                         state_dir_, lost_unsynced ? ", machine restarted" : "", ")"));
  loop_->Start(lost_unsynced, took_in_existing_);
  return fatal_;
}

absl::Status Duetd::OpenModules() {
  modules_.resize(config_.modules.size());
  for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
    const ModuleConfig& mc = config_.modules[m];
    Module& mod = modules_[m];
    mod.root = ModuleRootOf(state_dir_, mc.name);
    if (absl::Status s = MakeDirs(mod.root, 0700); !s.ok()) return s;
    for (size_t i = 0; i < mc.directories.size(); ++i) {
      const std::string backing = absl::StrCat(mod.root, "/", DirectoryPrefix(i));
      struct stat st;
      const bool first_start = stat(backing.c_str(), &st) != 0 && errno == ENOENT;
      if (absl::Status s = MakeDirs(backing, 0755); !s.ok()) return s;
      if (!first_start) continue;
      // What the directory held before Duet: the mount would hide it; it becomes the
      // module's data instead (a blank peer takes it whole).
      absl::StatusOr<size_t> moved = TakeInExistingData(mc.directories[i], backing);
      if (!moved.ok()) {
        return absl::Status(moved.status().code(),
                            absl::StrCat("module ", mc.name, ": ", moved.status().message()));
      }
      if (*moved == 0) continue;
      log_.Module(mc.name, absl::StrCat("took in ", *moved, " entries that ", mc.directories[i],
                                        " held before the first start"));
      if (took_in_existing_.empty() || took_in_existing_.back() != m) {
        took_in_existing_.push_back(m);
      }
    }
    absl::StatusOr<store::BackingStore> store = store::BackingStore::Open(mod.root);
    if (!store.ok()) return store.status();
    if (absl::Status s =
            io_queue_->AddModule(m, *std::move(store), DivergentDirOf(state_dir_, mc.name));
        !s.ok()) {
      return s;
    }
    for (size_t i = 0; i < mc.directories.size(); ++i) {
      if (absl::Status s = MakeDirs(mc.directories[i], 0755); !s.ok()) return s;
      ReplicatedMountOptions options;
      options.mountpoint = mc.directories[i];
      options.backing_root = absl::StrCat(mod.root, "/", DirectoryPrefix(i));
      options.path_prefix = DirectoryPrefix(i);
      options.op_id_base = uint64_t{i} << kMountShift;
      auto mount =
          std::make_unique<ReplicatedMount>(options, [this, m](uint64_t op_id, Mutation mutation) {
            loop_->Post(LocalMutation{m, op_id, std::move(mutation)});
          });
      mount->SetWritable(false);  // the engine says when this node may write
      if (absl::Status s = mount->Mount(); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("module ", mc.name, ": mounting ",
                                                   mc.directories[i], ": ", s.message()));
      }
      mod.mounts.push_back(std::move(mount));
    }
    CheckerRunner::Options checker_options;
    checker_options.env = CheckerEnvironment(config_, m, self_);
    mod.checkers = std::make_unique<CheckerRunner>(
        io_,
        [this, m](uint32_t checker, std::string detail) {
          loop_->Feed(CheckerFailed{m, checker, std::move(detail)});
        },
        std::move(checker_options));
  }
  return absl::OkStatus();
}

absl::Status Duetd::OpenNetwork() {
  const NodeConfig& me = config_.nodes[self_];
  const NodeConfig& peer = config_.nodes[Peer(self_)];
  auto net_log = [this](std::string line) { log_.Node(line); };
  for (size_t i = 0; i < me.heartbeat.size(); ++i) {
    net::UdpLinkOptions options;
    options.link_index = static_cast<int>(i);
    options.local = me.heartbeat[i];
    options.remote = peer.heartbeat[i];
    options.remote_id = Peer(self_);
    options.channel = static_cast<uint8_t>(i);
    absl::StatusOr<std::unique_ptr<net::UdpLink>> link = net::UdpLink::Open(
        io_, *datagram_auth_, options,
        [this](int index, const net::OpenedDatagram& d, const boost::asio::ip::udp::endpoint&) {
          OnPeerDatagram(index, d.payload);
        },
        net_log);
    if (!link.ok()) return link.status();
    peer_links_.push_back(*std::move(link));
  }
  if (config_.witness) {
    net::UdpLinkOptions options;
    options.local = Endpoint{me.heartbeat[0].host, 0};
    options.remote = config_.witness->address;
    options.remote_id = net::kWitnessId;
    options.channel = net::kWitnessChannel;
    absl::StatusOr<std::unique_ptr<net::UdpLink>> link = net::UdpLink::Open(
        io_, *datagram_auth_, options,
        [this](int, const net::OpenedDatagram& d, const boost::asio::ip::udp::endpoint&) {
          OnWitnessDatagram(d.payload);
        },
        net_log);
    if (!link.ok()) return link.status();
    witness_link_ = *std::move(link);
  }
  net::ReplicationLinkOptions options;
  options.cluster = config_.cluster_name;
  options.self = self_;
  options.listen = me.replication;
  options.peer = peer.replication;
  options.max_frame_bytes = wire::kMaxReplicationFrameBytes;
  net::ReplicationCallbacks callbacks;
  callbacks.on_connected = [this] { loop_->Feed(ReplicationConnected{}); };
  callbacks.on_frame = [this](std::span<const uint8_t> head, Payload tail) {
    OnReplicationFrame(head, std::move(tail));
  };
  callbacks.on_disconnected = [this](const std::string& reason) {
    log_.Node(absl::StrCat("replication connection lost: ", reason));
    loop_->Feed(ReplicationDisconnected{});
  };
  callbacks.log = net_log;
  absl::StatusOr<std::unique_ptr<net::ReplicationLink>> link =
      net::ReplicationLink::Start(io_, *key_, options, std::move(callbacks));
  if (!link.ok()) return link.status();
  replication_ = *std::move(link);
  return absl::OkStatus();
}

void Duetd::OnPeerDatagram(int link, std::span<const uint8_t> payload) {
  absl::StatusOr<PeerMessage> message = wire::DecodePeer(payload);
  if (!message.ok()) {
    log_.Node(absl::StrCat("dropped a heartbeat on link ", link, ": ", message.status().message()));
    return;
  }
  loop_->Feed(PeerReceived{link, *std::move(message)});
}

void Duetd::OnWitnessDatagram(std::span<const uint8_t> payload) {
  absl::StatusOr<WitnessMessage> message = wire::DecodeWitness(payload);
  if (!message.ok() || !std::holds_alternative<LeaseReply>(*message)) {
    log_.Node(absl::StrCat("dropped a witness datagram: ",
                           message.ok() ? "not a lease reply" : message.status().message()));
    return;
  }
  loop_->Feed(WitnessReceived{std::get<LeaseReply>(*std::move(message))});
}

void Duetd::OnReplicationFrame(std::span<const uint8_t> head, Payload tail) {
  // A payload the link did not cut (a small one) is cut here, its data copied.
  absl::StatusOr<ReplMessage> message = tail == nullptr
                                            ? wire::DecodeReplication(head)
                                            : wire::DecodeReplication(head, std::move(tail));
  if (!message.ok()) {
    // Authenticated yet unusable (a peer of another version, or a bug). The engine takes the
    // stream to be gap-free, so skipping the frame is not an option: the connection is reset
    // and the next one starts with a fresh handshake.
    const std::string why =
        absl::StrCat("a replication frame does not decode: ", message.status().message());
    log_.Node(why);
    replication_->Reset(why);
    return;
  }
  loop_->Feed(ReplicationReceived{*std::move(message)});
}

void Duetd::LogStoreRefusal(const Input& input) {
  const auto* applied = std::get_if<MutationApplied>(&input);
  if (applied == nullptr || applied->status.ok()) return;
  // The store's words for a path through a symlink or out of the root ("refused: ...") and for
  // a symlink it will not write through ("ELOOP: ..."), backing_store.h. This node's mount
  // never names such a path (the kernel follows symlinks before the mount sees a name), so it
  // came from the peer: a copy that differs, or a forged stream.
  const absl::string_view what = applied->status.message();
  if (!absl::StartsWith(what, "refused: ") && !absl::StartsWith(what, "ELOOP: ")) return;
  log_.Module(config_.modules[applied->module].name,
              absl::StrCat("the store refused a mutation, not applied: ", what));
}

void Duetd::OnAdmin(uint64_t id, const AdminRequest& request, AdminServer::Respond respond) {
  if (request.kind != AdminRequestKind::kVerb) {
    NodeStatusView view = StatusOf(config_, loop_->node(), MonotonicNow(), absl::Now());
    for (const Module& mod : modules_) view.problems.push_back(mod.problem);
    for (ModuleIndex m = 0; m < view.modules.size(); ++m) {
      if (view.modules[m].last_failover) continue;  // this run's
      view.modules[m].last_failover =
          failovers_->Of(config_.modules[m].name, view.now, view.wall_now);
    }
    respond(FormatAdminReply(absl::OkStatus(), request.kind == AdminRequestKind::kStatusJson
                                                   ? FormatStatusJson(view)
                                                   : FormatStatusTable(view)));
    return;
  }
  std::optional<ModuleIndex> m = config_.FindModule(request.module);
  if (!m) {
    respond(FormatAdminReply(
        absl::InvalidArgumentError(absl::StrCat("no module named '", request.module, "'")), ""));
    return;
  }
  pending_admin_[id] = std::move(respond);
  loop_->Feed(AdminCommand{id, request.verb, *m, request.force});
}

void Duetd::Execute(Actions actions) {
  const auto is_persist = [](const Action& a) {
    return std::holds_alternative<PersistModule>(a) ||
           std::holds_alternative<PersistIncarnation>(a) ||
           std::holds_alternative<PersistReplica>(a);
  };
  for (size_t i = 0; i < actions.size() && fatal_.ok();) {
    // Consecutive Persists go as one group commit (one fdatasync per run of one file): C4 allows
    // it, as nothing after them is carried out before it returns. Fail-stop: nothing after a failed
    // Persist is carried out.
    size_t end = i;
    while (end < actions.size() && is_persist(actions[end])) ++end;
    if (end > i) {
      const std::span<const Action> group(actions.data() + i, end - i);
      if (absl::Status s = metadata_->AppendGroup(group); !s.ok()) Fail(s);
      i = end;
      continue;
    }
    Carry(actions[i++]);
  }
  // Issued before any failure, so carried out as if queued when they were met.
  if (disk_ops_) disk_ops_->EndStep();
}

void Duetd::LogTimings() {
  for (const std::string& line : timings_->Summary(MonotonicNow())) log_.Node(line);
}

void Duetd::KeepFailover(ModuleIndex m) {
  const std::optional<FailoverRecord> last = loop_->node().Status(m).last_failover;
  if (!last) return;
  if (absl::Status s =
          failovers_->Keep(config_.modules[m].name, *last, MonotonicNow(), absl::Now());
      !s.ok()) {
    log_.Module(config_.modules[m].name,
                absl::StrCat("the last failover is not saved: ", s.message()));
  }
}

void Duetd::Fail(absl::Status status) {
  if (!fatal_.ok()) return;
  fatal_ = std::move(status);
  log_.Node(absl::StrCat("stopping: ", fatal_.message()));
  io_.stop();
}

void Duetd::Carry(const Action& action) {
  std::visit(Overloaded{
                 [&](const SendPeer& a) {
                   std::vector<uint8_t> frame = wire::EncodePeer(a.message);
                   for (size_t i = 0; i < peer_links_.size(); ++i) {
                     if (a.link == kAllLinks || a.link == static_cast<int>(i))
                       peer_links_[i]->Send(frame);
                   }
                 },
                 [&](const SendReplication& a) {
                   wire::ReplicationParts parts = wire::EncodeReplicationParts(a.message);
                   replication_->Send(std::move(parts.head), std::move(parts.tail));
                 },
                 [&](const SendWitness& a) {
                   if (witness_link_) witness_link_->SendRequest(wire::EncodeWitness(a.request));
                 },
                 [&](const PersistModule& a) {
                   if (absl::Status s = metadata_->Append(a); !s.ok()) Fail(s);
                 },
                 [&](const PersistIncarnation& a) {
                   if (absl::Status s = metadata_->Append(a); !s.ok()) Fail(s);
                 },
                 [&](const PersistReplica& a) {
                   if (absl::Status s = metadata_->Append(a); !s.ok()) Fail(s);
                 },
                 [&](const RunScript& a) {
                   ModuleIndex m = a.module;
                   scripts_->Run(
                       ScriptRequestFor(config_, self_, a), [this, m](const ScriptResult& r) {
                         loop_->Feed(ScriptExited{m, r.run_id, r.exit_code, r.timed_out});
                         KeepFailover(m);  // a failover completes when its start_prim exits
                       });
                 },
                 [&](const SetCheckers& a) {
                   CheckerRunner& runner = *modules_[a.module].checkers;
                   if (a.running) {
                     runner.Start(config_.modules[a.module].checkers);
                   } else {
                     runner.Stop();
                   }
                 },
                 [&](const SetVip& a) { SetModuleVips(a.module, a.assigned); },
                 [&](const SetWritable& a) {
                   for (auto& mount : modules_[a.module].mounts) mount->SetWritable(a.writable);
                 },
                 [&](const AdminReply& a) {
                   auto it = pending_admin_.find(a.request_id);
                   if (it == pending_admin_.end()) return;
                   it->second(FormatAdminReply(a.status, ""));
                   pending_admin_.erase(it);
                 },
                 [&](const LogEvent& a) {
                   if (a.module) {
                     log_.Module(config_.modules[*a.module].name, a.text);
                   } else {
                     log_.Node(a.text);
                   }
                 },
                 [&](const ApplyMutation& a) {
                   const ModuleConfig& mc = config_.modules[a.module];
                   if (absl::Status s = disk_ops_->Apply(a, mc.directories.size()); !s.ok()) {
                     log_.Module(mc.name, absl::StrCat("refused a mutation outside the module's "
                                                       "directories, not applied: ",
                                                       s.message()));
                   }
                 },
                 [&](const ReadZone& a) { disk_ops_->HandOn(a); },
                 [&](const ListTree& a) { disk_ops_->HandOn(a); },
                 [&](const PreserveDivergent& a) { disk_ops_->HandOn(a); },
                 [&](const CompleteLocal& a) {
                   auto& mounts = modules_[a.module].mounts;
                   size_t index = a.op_id >> kMountShift;
                   if (index < mounts.size())
                     mounts[index]->Complete(a.op_id, a.status).IgnoreError();
                 },
             },
             action);
}

void Duetd::SetModuleVips(ModuleIndex m, bool assigned) {
  const std::string& name = config_.modules[m].name;
  std::string problem;
  for (const VipConfig& v : config_.modules[m].vips) {
    absl::Status s = assigned ? vips_->Assign(v) : vips_->Release(v);
    if (s.ok()) {
      log_.Module(name, absl::StrCat("VIP ", v.address, " on ", v.interface,
                                     assigned ? " assigned" : " released"));
      continue;
    }
    // The engine has no input for "the VIP could not be assigned" (a checker failure is the
    // application's, with its own budget), so the failure is shown, not acted on: the log and
    // `duetctl status` say the module is serving without it.
    const std::string what =
        absl::StrCat(assigned ? "cannot assign " : "cannot release ", s.message());
    log_.Module(name, what);
    if (problem.empty()) problem = what;
  }
  modules_[m].problem = problem;
}

void Duetd::RecordAppGroup(std::string_view module, pid_t group) {
  const std::string name(module);
  // Groups that have ended are dropped first: their ids may come back as someone else's.
  absl::Status s = app_groups_->Prune(name);
  if (s.ok()) s = app_groups_->Record(name, group);
  if (!s.ok()) {
    log_.Module(name, absl::StrCat("cannot record process group ", group, " (the guard will ",
                                   "still find its processes): ", s.message()));
  }
}

void Duetd::KillAppGroups(const std::string& why) {
  if (!app_groups_) return;
  for (const ModuleConfig& mc : config_.modules) {
    for (pid_t group : app_groups_->Recorded(mc.name)) {
      if (!GroupAlive(group)) continue;
      ::kill(-group, SIGKILL);
      log_.Module(mc.name, absl::StrCat("killed process group ", group, " (", why, ")"));
    }
    app_groups_->Forget(mc.name);
  }
}

void Duetd::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (scripts_) scripts_->KillAll();
  // What the scripts left running in their groups (the applications) stops with the node:
  // nothing may keep writing under a directory whose mount is about to go.
  KillAppGroups("duetd stopping");
  // A stopped daemon serves nothing: every configured VIP goes (absent ones are no-ops), also
  // one whose release a fail-stop skipped.
  if (vips_) {
    for (const ModuleConfig& mc : config_.modules) {
      for (const VipConfig& v : mc.vips) vips_->Release(v).IgnoreError();
    }
  }
  for (Module& mod : modules_) {
    if (mod.checkers) mod.checkers->Stop();
    for (auto& mount : mod.mounts) mount->Unmount();
  }
  if (io_queue_) io_queue_->Shutdown();
  if (replication_) replication_->Stop();
  peer_links_.clear();
  witness_link_.reset();
  admin_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace duet::daemon
