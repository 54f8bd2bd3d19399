// Two Replica engines of one module joined by an in-memory ordered connection, each with a
// MemStore as its backing directory and a copy of what it persisted (to restart it from after
// a crash). Events (messages, apply and read completions) run in FIFO order when pumped;
// each direction can be held to model a peer that stops answering.
#ifndef DUET_TESTS_ENGINE_REPLICATION_REPLICA_HARNESS_H_
#define DUET_TESTS_ENGINE_REPLICATION_REPLICA_HARNESS_H_

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/adapter_contract.h"  // the rules this driver keeps
#include "engine/overloaded.h"
#include "engine/replication/replica.h"
#include "sim/mem_store.h"

namespace duet {

class ReplicaPair {
 public:
  struct Side {
    std::unique_ptr<Rng> rng;
    std::unique_ptr<Replica> replica;
    sim::MemStore store;
    ReplicaDurableState disk;  // what it persisted
    std::map<uint64_t, absl::Status> completed;
    std::map<uint64_t, size_t> completions;  // how often each op was completed
    std::vector<std::string> log;
    std::vector<std::string> preserved;
    // What each kept path held when it was kept aside (a file's data; "" for other kinds).
    std::map<std::string, std::string> preserved_data;
    size_t preserve_actions = 0;  // PreserveDivergent actions with paths issued
    // C5: a keep-aside failed, and no PreserveDivergent ran since: operations are answered
    // NotCarriedOut (counted) without touching the store.
    bool keep_aside_stopped = false;
    uint64_t not_carried_out = 0;
    // Answers to PreserveDivergent wait here while held (a slow copy), until released.
    bool hold_preserve_answers = false;
    bool hold_list_answers = false;  // the same for ListTree (a large tree)
    uint64_t blocks_received = 0;
    uint64_t block_bytes_received = 0;
    uint64_t block_zones_received = 0;      // a run of holes counts each of its zones
    std::vector<uint64_t> zones_requested;  // the zones of ReplTargetZones received, in order
    uint64_t hot_adds = 0;
    uint64_t persists = 0;
    uint64_t records_persisted = 0;
    uint64_t writes_sent = 0;
    uint64_t stale_blocks = 0;
    std::set<std::pair<std::string, uint64_t>> zones_resynced;  // (path, zone) of blocks in
    // Disk faults: every flush fails (EIO: nothing is made durable); every write fails
    // (ENOSPC: nothing is written).
    bool fail_flushes = false;
    bool fail_writes = false;
    bool fail_preserve = false;      // keeping divergent paths aside fails (ENOSPC)
    bool fail_digest_reads = false;  // a ReadZone for a digest only fails (EIO)
    uint64_t sames_received = 0;     // ResyncSame: zones the source found the same
    // MemStore keeps hard links as copies: names listed here are reported by reads as one
    // file with several names (ZoneRead::link_inode), as a real store reports them.
    std::map<std::string, uint64_t> inode_of;
    std::vector<std::pair<std::string, std::string>> links_applied;  // (existing, new name)
  };

  // Both engines start as Node starts them (OnStart), from empty disks.
  explicit ReplicaPair(ReplicaOptions options = {}) : options_(options) {
    for (int i = 0; i < 2; ++i) {
      Boot(i);
      Run(i, [&](Actions& out) { replica(i).OnStart(/*lost_unsynced=*/false, out); });
    }
  }

  Side& side(int i) { return sides_[i]; }
  // Side i's configuration gives another zone size from its next boot on.
  void ConfigureZoneSize(int i, uint32_t zone_size) { zone_size_[i] = zone_size; }
  // Every delivered message and completion goes to stderr, for debugging a failing case;
  // on by default when DUET_REPLICA_TRACE is set.
  void set_trace(bool on) { trace_ = on; }
  Replica& replica(int i) { return *sides_[i].replica; }
  absl::Time now() const { return now_; }

  void SetRole(int i, ReplRole role) {
    Run(i, [&](Actions& out) { replica(i).SetRole(now_, role, out); });
  }
  bool ReadyToStepDown(int i) {
    bool ready = false;
    Run(i, [&](Actions& out) { ready = replica(i).ReadyToStepDown(now_, out); });
    return ready;
  }
  void TakeInExistingData(int i) {
    Run(i, [&](Actions& out) { replica(i).TakeInExistingData(out); });
  }
  void Fence(int i) {
    Run(i, [&](Actions& out) { replica(i).Fence(out); });
  }
  void Connect() {
    connected_ = true;
    for (int i = 0; i < 2; ++i) Run(i, [&](Actions& out) { replica(i).OnConnected(now_, out); });
  }
  void Disconnect() {
    connected_ = false;
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [](const Event& e) { return std::holds_alternative<Deliver>(e); }),
                  events_.end());
    for (auto& held : held_) held.clear();
    hold_[0] = hold_[1] = false;  // a new connection starts clean
    lose_writes_[0] = lose_writes_[1] = 0;
    for (int i = 0; i < 2; ++i) {
      Run(i, [&](Actions& out) { replica(i).OnDisconnected(now_, "test disconnect", out); });
    }
  }
  // Node's heartbeat verdict on side i's peer (Replica::SetPeerReachable).
  void PeerReachable(int i, bool reachable) {
    Run(i, [&](Actions& out) { replica(i).SetPeerReachable(now_, reachable, out); });
  }
  // Side i's keep-asides answered now, after whatever ran while they were held.
  void ReleasePreserveAnswers(int i) {
    sides_[i].hold_preserve_answers = false;
    for (auto& e : held_preserves_[i]) events_.push_back(std::move(e));
    held_preserves_[i].clear();
  }
  void ReleaseListAnswers(int i) {
    sides_[i].hold_list_answers = false;
    for (auto& e : held_lists_[i]) events_.push_back(std::move(e));
    held_lists_[i].clear();
  }
  // Holds messages from side i (they queue until released or the connection drops).
  void Hold(int from, bool hold) {
    hold_[from] = hold;
    if (!hold) {
      for (auto& m : held_[from]) events_.push_back(Deliver{1 - from, std::move(m)});
      held_[from].clear();
    }
  }
  // Holds side i's disk completions (MutationApplied) as a driver taking adapter contract
  // C7's freedom would: the operations are done (their effects are in the store), their
  // answers wait until released, in whatever order the test chooses.
  void HoldApplies(int i, bool hold) {
    hold_applies_[i] = hold;
    if (!hold) {
      for (auto& a : held_applies_[i]) events_.push_back(std::move(a));
      held_applies_[i].clear();
      held_apply_paths_[i].clear();
      held_apply_barriers_[i].clear();
      held_apply_barriers_[i].clear();
    }
  }
  // The paths of side i's held completions, in issue order.
  std::vector<std::string> HeldApplies(int i) const {
    std::vector<std::string> paths;
    for (const auto& [a, path] : held_apply_paths_[i]) paths.push_back(path);
    return paths;
  }
  // Holds the messages from side `from` that `which` picks (until released); the others go.
  void HoldMatching(int from, std::function<bool(const ReplMessage&)> which) {
    hold_if_[from] = std::move(which);
  }
  // Releases side `from`'s held messages as Hold(from, false) does, but those `first` picks
  // before the others (each group in the order sent): the order a transport keeps, with the
  // sends of completions that came in another order.
  template <class Pred>
  void ReleaseHeldFirst(int from, Pred first) {
    hold_[from] = false;
    hold_if_[from] = nullptr;
    std::vector<ReplMessage> rest;
    for (auto& m : held_[from]) {
      if (first(m)) {
        events_.push_back(Deliver{1 - from, std::move(m)});
      } else {
        rest.push_back(std::move(m));
      }
    }
    for (auto& m : rest) events_.push_back(Deliver{1 - from, std::move(m)});
    held_[from].clear();
  }
  // Gives side i the held completion of the first held operation on `path` (and runs it).
  void ReleaseApplied(int i, const std::string& path) {
    for (size_t k = 0; k < held_applies_[i].size(); ++k) {
      if (held_apply_paths_[i][k].second != path) continue;
      Event e = std::move(held_applies_[i][k]);
      held_applies_[i].erase(held_applies_[i].begin() + static_cast<long>(k));
      held_apply_paths_[i].erase(held_apply_paths_[i].begin() + static_cast<long>(k));
      held_apply_barriers_[i].erase(held_apply_barriers_[i].begin() + static_cast<long>(k));
      Dispatch(std::move(e));
      return;
    }
    ADD_FAILURE() << "no held completion for " << path;
  }
  // ReleaseApplied, then runs what it caused (Pump).
  void ReleaseAppliedAndPump(int i, const std::string& path) {
    ReleaseApplied(i, path);
    Pump();
  }
  // Gives side i the completion of the most recently issued held operation that C7 lets
  // finish now (none held before it on its path, no barrier held before it; a barrier only
  // first), and runs it. False if none is held.
  bool ReleaseLatestAllowed(int i) {
    auto& paths = held_apply_paths_[i];
    for (size_t k = paths.size(); k-- > 0;) {
      bool allowed = true;
      for (size_t e = 0; e < k && allowed; ++e) {
        allowed = !held_apply_barriers_[i][e] && !held_apply_barriers_[i][k] &&
                  paths[e].second != paths[k].second;
      }
      if (!allowed) continue;
      Event ev = std::move(held_applies_[i][k]);
      held_applies_[i].erase(held_applies_[i].begin() + static_cast<long>(k));
      paths.erase(paths.begin() + static_cast<long>(k));
      held_apply_barriers_[i].erase(held_apply_barriers_[i].begin() + static_cast<long>(k));
      Dispatch(std::move(ev));
      return true;
    }
    return false;
  }
  // Side `from` acknowledges as a build before per-mutation acks did: its ReplAcks carry the
  // watermarks only (ReplAck::done_after is dropped on the way).
  void AckWatermarksOnly(int from, bool on) { watermarks_only_[from] = on; }
  // Loses the next `count` stream writes side `from` sends, on a live connection (a transport
  // that drops a message without closing).
  void LoseStreamWrites(int from, int count) { lose_writes_[from] = count; }
  // Loses side i's unsynced data and restarts its engine from what it persisted. With
  // `tear_seed`, each unsynced page of a file survives or not at random (a torn crash).
  void Crash(int i, std::optional<uint64_t> tear_seed = std::nullopt) {
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [&](const Event& e) { return TargetOf(e) == i; }),
                  events_.end());
    held_[i].clear();
    held_applies_[i].clear();  // the process that would have answered them is gone
    held_apply_paths_[i].clear();
    held_apply_barriers_[i].clear();
    if (tear_seed) {
      Rng rng(*tear_seed);
      sides_[i].store.CrashTearingWrites(rng);
    } else {
      sides_[i].store.Crash();
    }
    Boot(i);
    Run(i, [&](Actions& out) { replica(i).OnStart(/*lost_unsynced=*/true, out); });
  }
  // Restarts side i's engine from what it persisted, its files intact (a daemon restart: the
  // page cache survives the process).
  void Restart(int i) {
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [&](const Event& e) { return TargetOf(e) == i; }),
                  events_.end());
    held_[i].clear();
    held_applies_[i].clear();  // the process that would have answered them is gone
    held_apply_paths_[i].clear();
    held_apply_barriers_[i].clear();
    Boot(i);
    Run(i, [&](Actions& out) { replica(i).OnStart(/*lost_unsynced=*/false, out); });
  }
  // Side i's machine comes back with a new, empty disk: no files, no replication metadata.
  // `leftover` names files that survive anyway (a disk reused without its metadata).
  void ReplaceDisk(int i, const std::vector<std::string>& leftover = {}) {
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [&](const Event& e) { return TargetOf(e) == i; }),
                  events_.end());
    held_[i].clear();
    held_applies_[i].clear();  // the process that would have answered them is gone
    held_apply_paths_[i].clear();
    held_apply_barriers_[i].clear();
    sides_[i].store = sim::MemStore();
    for (const std::string& path : leftover) {
      Mutation m = MakeMutation(MutationKind::kWrite, path);
      m.data = MakePayload("leftover " + path);
      m.make_parents = true;  // with the directories that held them
      EXPECT_TRUE(sides_[i].store.Apply(m).ok());
    }
    sides_[i].disk = ReplicaDurableState{};
    Boot(i);
    Run(i, [&](Actions& out) { replica(i).OnStart(/*lost_unsynced=*/true, out); });
  }
  uint64_t Write(int i, const std::string& path, uint64_t offset, std::string bytes) {
    Mutation m = MakeMutation(MutationKind::kWrite, path);
    m.offset = offset;
    m.data = MakePayload(std::move(bytes));
    return Submit(i, std::move(m));
  }
  uint64_t Submit(int i, Mutation m) {
    const uint64_t op = next_op_++;
    Run(i, [&](Actions& out) { replica(i).OnLocalMutation(now_, op, std::move(m), out); });
    return op;
  }
  void MarkOutdated(int i) {
    Run(i, [&](Actions& out) { replica(i).MarkOutdated(out); });
  }
  void Discard(int i) {
    Run(i, [&](Actions& out) { ASSERT_TRUE(replica(i).DiscardMyData(out).ok()); });
  }
  void PeerOutdated(int i) {
    Run(i, [&](Actions& out) { replica(i).OnPeerOutdated(now_, out); });
  }
  bool Completed(int i, uint64_t op) const { return sides_[i].completed.contains(op); }
  // The calls among `ops` side i has completed, in the order given.
  std::vector<uint64_t> CompletedAmong(int i, const std::vector<uint64_t>& ops) const {
    std::vector<uint64_t> done;
    for (uint64_t op : ops) {
      if (Completed(i, op)) done.push_back(op);
    }
    return done;
  }
  absl::Status Result(int i, uint64_t op) { return sides_[i].completed.at(op); }
  size_t CompletionCount(int i, uint64_t op) const {
    auto it = sides_[i].completions.find(op);
    return it == sides_[i].completions.end() ? 0 : it->second;
  }

  // Runs queued events until none is left (or `limit` of them ran).
  void Pump(size_t limit = 1000000) {
    for (size_t n = 0; n < limit && !events_.empty(); ++n) {
      Event e = std::move(events_.front());
      events_.pop_front();
      Dispatch(std::move(e));
    }
  }
  // Whether side i has a zone read issued and not yet answered (its result is taken at the
  // issue: what happens meanwhile is after the read).
  bool ZoneReadPending(int i) const {
    for (const Event& e : events_) {
      if (const Read* r = std::get_if<Read>(&e); r != nullptr && r->side == i) return true;
    }
    return false;
  }
  // How many zone reads side i has issued and not yet answered.
  size_t ZoneReadsPending(int i) const {
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(), [&](const Event& e) {
      const Read* r = std::get_if<Read>(&e);
      return r != nullptr && r->side == i;
    }));
  }
  // Runs at most one event; false if none.
  bool Step() {
    if (events_.empty()) return false;
    Event e = std::move(events_.front());
    events_.pop_front();
    Dispatch(std::move(e));
    return true;
  }
  void Advance(absl::Duration d) {
    now_ += d;
    for (int i = 0; i < 2; ++i) Run(i, [&](Actions& out) { replica(i).OnTick(now_, out); });
  }
  // Pumps and advances time in steps until both engines are quiet.
  void Settle(absl::Duration total = absl::Seconds(10)) {
    const absl::Time end = now_ + total;
    while (now_ < end) {
      Pump();
      Advance(absl::Milliseconds(100));
    }
    Pump();
  }
  std::string Difference() {
    return sim::DescribeDifference(sides_[0].store.live(), sides_[1].store.live(),
                                   options_.zone_size);
  }
  std::string Log(int i) {
    std::string all;
    for (const auto& l : sides_[i].log) all += l + "\n";
    return all;
  }

 private:
  struct Deliver {
    int to;
    ReplMessage message;
  };
  struct Applied {
    int side;
    uint64_t apply_id;
    absl::Status status;
  };
  struct Read {
    int side;
    ZoneRead read;
  };
  struct Listed {
    int side;
    TreeListed listed;
  };
  struct Preserved {
    int side;
    DivergentPreserved preserved;
  };
  using Event = std::variant<Deliver, Applied, Read, Listed, Preserved>;

  static int TargetOf(const Event& e) {
    return std::visit(
        [](const auto& x) {
          if constexpr (requires { x.to; }) {
            return x.to;
          } else {
            return x.side;
          }
        },
        e);
  }

  void Boot(int i) {
    Side& s = sides_[i];
    s.keep_aside_stopped = false;  // the adapter starts with the process
    s.rng = std::make_unique<Rng>(1000 + static_cast<uint64_t>(i) + boots_++ * 7);
    ReplicaOptions o = options_;
    o.default_primary_here = i == 0;
    if (zone_size_[i] != 0) o.zone_size = zone_size_[i];
    s.replica = std::make_unique<Replica>(0, "m", o, s.disk, *s.rng);
  }

  template <class F>
  void Run(int i, F&& f) {
    Actions out;
    f(out);
    Execute(i, out);
  }

  void Dispatch(Event e) {
    if (trace_) {
      std::visit(Overloaded{
                     [](const Deliver& d) {
                       std::fprintf(stderr, "  -> %d: %s\n", d.to,
                                    DescribeReplMessage(d.message).c_str());
                     },
                     [](const Applied& a) {
                       std::fprintf(stderr, "  %d applied %llu\n", a.side,
                                    static_cast<unsigned long long>(a.apply_id));
                     },
                     [](const Read& r) { std::fprintf(stderr, "  %d read done\n", r.side); },
                     [](const Listed& l) { std::fprintf(stderr, "  %d listed\n", l.side); },
                     [](const Preserved& p) { std::fprintf(stderr, "  %d preserved\n", p.side); },
                 },
                 e);
    }
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Deliver>) {
            if (const auto* block = std::get_if<ResyncBlock>(&x.message)) {
              sides_[x.to].blocks_received++;
              sides_[x.to].block_bytes_received += block->data ? block->data->size() : 0;
              for (uint64_t i = 0; i < block->hole_zones; ++i) {
                sides_[x.to].zones_resynced.emplace(block->path, block->zone + i);
              }
              sides_[x.to].block_zones_received += block->hole_zones;
            }
            if (std::holds_alternative<ResyncSame>(x.message)) sides_[x.to].sames_received++;
            if (const auto* request = std::get_if<ReplTargetZones>(&x.message)) {
              std::vector<uint64_t>& zones = sides_[x.to].zones_requested;
              zones.insert(zones.end(), request->zones.begin(), request->zones.end());
            }
            if (const auto* ack = std::get_if<ResyncBlockAck>(&x.message); ack && ack->stale) {
              sides_[x.to].stale_blocks++;
            }
            Run(x.to, [&](Actions& out) { replica(x.to).OnMessage(now_, x.message, out); });
          } else if constexpr (std::is_same_v<T, Applied>) {
            Run(x.side,
                [&](Actions& out) { replica(x.side).OnApplied(now_, x.apply_id, x.status, out); });
          } else if constexpr (std::is_same_v<T, Read>) {
            Run(x.side, [&](Actions& out) { replica(x.side).OnZoneRead(now_, x.read, out); });
          } else if constexpr (std::is_same_v<T, Listed>) {
            Run(x.side, [&](Actions& out) { replica(x.side).OnTreeListed(now_, x.listed, out); });
          } else {
            Run(x.side, [&](Actions& out) {
              replica(x.side).OnDivergentPreserved(now_, x.preserved, out);
            });
          }
        },
        e);
  }

  void Execute(int i, Actions& actions) {
    Side& s = sides_[i];
    for (Action& a : actions) {
      if (auto* send = std::get_if<SendReplication>(&a)) {
        if (!connected_) continue;
        if (auto* ack = std::get_if<ReplAck>(&send->message); ack && watermarks_only_[i]) {
          ack->done_after.clear();
        }
        if (std::holds_alternative<ReplWrite>(send->message)) {
          s.writes_sent++;
          if (lose_writes_[i] > 0) {
            --lose_writes_[i];
            continue;
          }
        }
        if (hold_[i] || (hold_if_[i] && hold_if_[i](send->message))) {
          held_[i].push_back(std::move(send->message));
        } else {
          events_.push_back(Deliver{1 - i, std::move(send->message)});
        }
      } else if (auto* skipped = std::get_if<ApplyMutation>(&a); skipped && s.keep_aside_stopped) {
        ++s.not_carried_out;
        events_.push_back(Applied{i, skipped->apply_id, NotCarriedOut()});
      } else if (auto* apply = std::get_if<ApplyMutation>(&a)) {
        const MutationKind kind = apply->mutation.kind;
        absl::Status st;
        if (s.fail_writes && kind == MutationKind::kWrite) {
          st = absl::ResourceExhaustedError("ENOSPC: no space left on device");
        } else if (kind != MutationKind::kFsync || !s.fail_flushes) {
          st = s.store.Apply(apply->mutation);
        }
        if (st.ok() && apply->durable) {
          if (s.fail_flushes) {
            st = absl::DataLossError("EIO: fsync failed");
          } else {
            st.Update(s.store.Sync(apply->mutation.path));
          }
        }
        if (kind == MutationKind::kLink) {
          s.links_applied.emplace_back(apply->mutation.path, apply->mutation.path2);
        }
        if (hold_applies_[i]) {
          held_applies_[i].push_back(Applied{i, apply->apply_id, st});
          held_apply_paths_[i].emplace_back(apply->apply_id, apply->mutation.path);
          held_apply_barriers_[i].push_back(DiskOrderOf(apply->mutation) == DiskOrder::kBarrier);
        } else {
          events_.push_back(Applied{i, apply->apply_id, st});
        }
      } else if (auto* skipped_list = std::get_if<ListTree>(&a);
                 skipped_list && s.keep_aside_stopped) {
        ++s.not_carried_out;
        events_.push_back(Listed{
            i, TreeListed{skipped_list->module, skipped_list->list_id, NotCarriedOut(), {}}});
      } else if (auto* skipped_read = std::get_if<ReadZone>(&a);
                 skipped_read && s.keep_aside_stopped) {
        ++s.not_carried_out;
        ZoneRead zone;
        zone.module = skipped_read->module;
        zone.read_id = skipped_read->read_id;
        zone.status = NotCarriedOut();
        events_.push_back(Read{i, std::move(zone)});
      } else if (auto* list = std::get_if<ListTree>(&a)) {
        (s.hold_list_answers ? held_lists_[i] : events_)
            .push_back(Listed{i, s.store.List(list->module, list->list_id)});
      } else if (auto* read = std::get_if<ReadZone>(&a)) {
        ZoneRead zone = s.store.Read(read->module, read->read_id, read->path, read->offset,
                                     read->length, read->content);
        if (s.fail_digest_reads && read->content == ZoneReadContent::kDigest) {
          zone = ZoneRead{};
          zone.module = read->module;
          zone.read_id = read->read_id;
          zone.status = absl::DataLossError("EIO: input/output error");
        }
        if (auto inode = s.inode_of.find(read->path);
            inode != s.inode_of.end() && zone.kind == PathKind::kFile) {
          zone.link_device = 1;
          zone.link_inode = inode->second;
        }
        events_.push_back(Read{i, std::move(zone)});
      } else if (auto* persist = std::get_if<PersistReplica>(&a)) {
        s.persists++;
        s.records_persisted += persist->records.size();
        for (const ReplicaRecord& r : persist->records) {
          if (std::holds_alternative<record::HotAdd>(r)) s.hot_adds++;
          ApplyRecord(s.disk, r, options_.zone_size);
        }
      } else if (auto* done = std::get_if<CompleteLocal>(&a)) {
        if (trace_) {
          std::fprintf(stderr, "%d completed op %llu: %s\n", i,
                       static_cast<unsigned long long>(done->op_id),
                       done->status.ToString().c_str());
        }
        s.completed[done->op_id] = done->status;
        ++s.completions[done->op_id];
      } else if (auto* log = std::get_if<LogEvent>(&a)) {
        if (trace_) std::fprintf(stderr, "%d log: %s\n", i, log->text.c_str());
        s.log.push_back(log->text);
      } else if (auto* keep = std::get_if<PreserveDivergent>(&a)) {
        // With no paths it keeps nothing and succeeds (C5).
        const bool fails = s.fail_preserve && !keep->paths.empty();
        s.keep_aside_stopped = fails;
        if (!keep->paths.empty()) ++s.preserve_actions;
        for (const std::string& p : keep->paths) {
          if (fails) continue;
          s.preserved.push_back(p);
          auto entry = s.store.live().find(p);
          s.preserved_data[p] = entry != s.store.live().end() ? entry->second.data.ToString() : "";
        }
        const absl::Status status =
            fails ? absl::ResourceExhaustedError("ENOSPC: no space left on device")
                  : absl::OkStatus();
        (s.hold_preserve_answers ? held_preserves_[i] : events_)
            .push_back(Preserved{i, DivergentPreserved{keep->module, keep->preserve_id, status}});
      }
    }
  }

  ReplicaOptions options_;
  uint32_t zone_size_[2] = {0, 0};  // side i's configured zone size, if not the options'

  Side sides_[2];
  std::deque<Event> events_;
  std::vector<ReplMessage> held_[2];
  std::deque<Event> held_preserves_[2];
  std::deque<Event> held_lists_[2];
  bool hold_[2] = {false, false};
  std::function<bool(const ReplMessage&)> hold_if_[2];
  bool hold_applies_[2] = {false, false};
  bool watermarks_only_[2] = {false, false};
  std::vector<Event> held_applies_[2];
  std::vector<std::pair<uint64_t, std::string>> held_apply_paths_[2];
  std::vector<bool> held_apply_barriers_[2];
  int lose_writes_[2] = {0, 0};
  bool connected_ = false;
  absl::Time now_ = absl::UnixEpoch() + absl::Hours(1);
  uint64_t next_op_ = 1;
  uint64_t boots_ = 0;
  bool trace_ = std::getenv("DUET_REPLICA_TRACE") != nullptr;
};

}  // namespace duet

#endif  // DUET_TESTS_ENGINE_REPLICATION_REPLICA_HARNESS_H_
