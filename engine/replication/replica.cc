// Replica, the session state machine: construction, the role Node gives it, the connection
// and the handshake (DecideSession over the two Hellos, session_decision.h), routing of
// completions and messages to the part that handles them. The parts:
// replica_primary_stream.cc, replica_secondary_stream.cc, replica_resync_source.cc (with
// replica_resync_links.cc), replica_resync_target.cc (with replica_resync_digests.cc,
// replica_resync_names_under.cc, replica_keep_aside.cc), replica_disk_faults.cc,
// replica_refusals.cc, and time and status in replica_status.cc.
#include "engine/replication/replica.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"
#include "engine/replication/zone_math.h"

namespace duet {

ReplicaOptions ReplicaOptions::From(const ModuleConfig& module,
                                    const ReplicationConfig& replication, NodeIndex self) {
  ReplicaOptions o;
  o.ack = module.ack;
  o.zone_size = module.zone_size;
  o.window_bytes = replication.window_bytes;
  o.window_count = replication.window_count;
  o.timeout = replication.timeout;
  o.resync_bandwidth = replication.resync_bandwidth;
  o.activity_log_zones = std::max<size_t>(8192, 2 * replication.window_count);
  o.default_primary_here = module.default_primary == self;
  o.split_brain = module.split_brain;
  return o;
}

Replica::Replica(ModuleIndex module, std::string name, ReplicaOptions options,
                 ReplicaDurableState durable, Rng& rng)
    : module_(module),
      name_(std::move(name)),
      opt_(options),
      durable_(std::move(durable)),
      rng_(rng),
      activity_log_(opt_.activity_log_zones, durable_.hot, durable_.hot_names),
      data_state_(durable_.inconsistent || durable_.outdated ? DataState::kOutdated
                                                             : DataState::kUnknown),
      // A journal kept across a restart may have been replayed before it.
      journal_replayed_(!durable_.journal.empty()) {
  configured_zone_size_ = opt_.zone_size;
  // Zones already tracked keep the size they were counted in.
  const bool tracking = !durable_.dirty.empty() || !durable_.hot.empty();
  if (durable_.zone_size != 0 && tracking) opt_.zone_size = durable_.zone_size;
}

// --- Role and connection ---------------------------------------------------------------------

void Replica::SetRole(absl::Time now, ReplRole role, Actions& out) {
  if (role == ReplRole::kPrimary) fenced_ = fenced_copy_ = false;
  if (role == role_) return;
  assert(role == ReplRole::kPrimary || drained());
  if (role_ == ReplRole::kPrimary) {
    // The writer's copy was the reference; a fenced one may have missed the new writer's,
    // and one whose flush failed may lose zones at its next restart.
    data_state_ = fenced_ || durable_.disk_failed ? DataState::kOutdated : DataState::kUpToDate;
    fenced_copy_ = fenced_ && !durable_.disk_failed;
    // Writes made alone still waiting for the peer's outdate were never acknowledged: the
    // peer may take over without them (and a resync may discard them here). They fail now;
    // an outdate heard in a later role must not acknowledge them.
    for (auto& [op, status] : held_completions_) {
      out.push_back(CompleteLocal{
          module_, op, absl::AbortedError("no longer primary: the peer never had this write")});
    }
    held_completions_.clear();
  }
  role_ = role;
  if (role == ReplRole::kPrimary) ++primary_terms_;
  if (role == ReplRole::kPrimary && !keep_aside_failure_.empty()) {
    // Promoted (forced) with a branch that could not be kept aside: it is the reference now,
    // nothing overwrites it.
    keep_aside_failure_.clear();
    keep_aside_retry_at_ = absl::InfiniteFuture();
    keep_aside_retry_delay_ = kKeepAsideRetryFirst;
  }
  if (role == ReplRole::kPrimary && (durable_.inconsistent || durable_.outdated)) {
    // Promoted with a copy not known up to date (an admin forced it): the writer's copy is
    // the reference from now on, and must never become a resync target while it writes.
    Log(out, "this copy was not up to date; as primary it is the reference now (forced)");
    std::vector<ReplicaRecord> records = {record::SetInconsistent{false},
                                          record::SetOutdated{false}};
    if (!durable_.joined && durable_.inconsistent) {
      // An unfinished full resync's target: its content is no longer the first start's data
      // (the initial generation it still names). It holds the module's data now, under a
      // lineage of its own: a blank peer takes it whole, a joined one is unrelated data.
      records.push_back(record::SetJoined{true});
      records.push_back(record::SetGenerations{Generations{rng_.Next() | 1, 0, {}}});
    }
    Persist(std::move(records), out);
  }
  // An outdate heard in another role (as a resync source) says nothing about the writes
  // this role makes alone: they need their own (Node repeats it while it holds).
  peer_outdated_ = false;
  if (role == ReplRole::kPrimary && target_active_) {
    // An in-sync session with nothing to fetch (a planned handover's) ends quietly; a copy
    // that a resync was overwriting serves only because the admin forced it.
    if (data_state_ != DataState::kUpToDate) {
      Log(out, "resync into this copy abandoned: it is primary now (forced)");
    }
    target_active_ = false;
  }
  if (connected_) {
    if (peer_reachable_) {
      SendHello(out);  // the stream changes direction: agree again
    } else {
      link_ = Link::kDown;  // a session is offered once the peer is heard again
    }
  }
  (void)now;
}

void Replica::SetPeerReachable(absl::Time now, bool reachable, Actions& out) {
  if (reachable == peer_reachable_) return;
  peer_reachable_ = reachable;
  if (!reachable) {
    // Holding writes for acknowledgements or a handshake answer that cannot come would stop
    // the module for replication.timeout (twice, with the handshake offered after the drop).
    if (role_ == ReplRole::kPrimary && (link_ == Link::kAttached || link_ == Link::kHello)) {
      DropPeer(now, "the peer is lost on every link", out);
    }
    return;
  }
  if (connected_ && link_ == Link::kDown) SendHello(out);
}

void Replica::OnPeerOutdated(absl::Time now, Actions& out) {
  if (peer_outdated_) return;
  peer_outdated_ = true;
  // From now on writes made alone are acknowledged: recorded first, so that after any
  // crash this branch counts as real in the next handshake.
  if (role_ == ReplRole::kPrimary && !durable_.alone_acked) Persist({record::SetAloneAcked{}}, out);
  for (auto& [op, status] : held_completions_) out.push_back(CompleteLocal{module_, op, status});
  held_completions_.clear();
  CompleteReady(out);
  DrainPending(now, out);  // completions made room in the window
}

void Replica::MarkOutdated(Actions& out) {
  if (role_ == ReplRole::kPrimary || durable_.outdated) return;
  // This copy survives a split brain: what the serving peer writes now is discarded.
  if (own_copy_survives_) return;
  // Attached and in sync, the news is stale (a heartbeat sent before the last resync
  // finished): a primary that dropped us since sends a new Hello or closes the connection
  // first, and holds its writes made alone until we say we are outdated. Taken as news, it
  // would leave this copy outdated in a session that never resyncs it.
  if (link_ == Link::kAttached && !target_active_) return;
  Persist({record::SetOutdated{true}}, out);
  data_state_ = DataState::kOutdated;
  fenced_copy_ = false;
  Log(out, "the primary writes without this node: this copy is outdated until resynced");
}

absl::Status Replica::DiscardMyData(Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    return absl::FailedPreconditionError(absl::StrCat(
        name_, ": this node is primary; make it secondary before discarding its data"));
  }
  discard_my_data_ = true;
  Log(out, "admin: this copy discards its divergent changes at the next handshake");
  if (connected_) SendHello(out);
  return absl::OkStatus();
}

void Replica::Fence(Actions& out) {
  if (role_ != ReplRole::kPrimary || fenced_) return;
  fenced_ = true;
  for (auto& [op, status] : held_completions_) {
    out.push_back(CompleteLocal{module_, op, absl::AbortedError("fenced: no longer primary")});
  }
  held_completions_.clear();
  for (Pending& p : pending_) {
    out.push_back(CompleteLocal{module_, p.op_id, absl::AbortedError("fenced: no longer primary")});
  }
  pending_.clear();
  CompleteReady(out);
}

void Replica::ConfirmFencedCopyCurrent(const std::string& why, Actions& out) {
  if (!fenced_copy_ || role_ != ReplRole::kSecondary) return;
  if (durable_.disk_failed || durable_.inconsistent || durable_.outdated) return;
  fenced_copy_ = false;
  data_state_ = DataState::kUpToDate;
  Log(out, "this copy, fenced, is up to date after all: " + why);
}

void Replica::OnConnected(absl::Time now, Actions& out) {
  connected_ = true;
  fenced_copy_ = false;  // the handshake decides
  (void)now;
  // A failed keep-aside is retried in the session this connection starts.
  keep_aside_retry_at_ = absl::InfiniteFuture();
  SendHello(out);
}

void Replica::OnDisconnected(absl::Time now, const std::string& why, Actions& out) {
  connected_ = false;
  if (role_ == ReplRole::kPrimary && (link_ != Link::kDown || !inflight_.empty())) {
    DropPeer(now, why, out);
  }
  link_ = Link::kDown;
  // The peer was outdated for that session (a resync target is inconsistent until done, but
  // it may finish without us): the next writes alone need a new outdate.
  peer_outdated_ = false;
  peer_copy_survives_ = own_copy_survives_ = false;  // decided again at the next handshake
  peer_hello_.reset();
  awaiting_answer_to_ = 0;
  expect_lsn_ = 0;
  ForgetRefusals();
  AbandonSourceSession();
  awaiting_listing_keep_aside_ = false;
  held_until_kept_.clear();
  if (target_active_) {
    target_active_ = false;
    data_state_ = DataState::kOutdated;  // resumes at the next connection
    Log(out, "resync interrupted: " + why);
  }
}

void Replica::SendHello(Actions& out, uint64_t answers, absl::Time now) {
  // A Hello ends the session on our side: a resync we were sending must not send anything
  // after it (the peer may already count the new session, and would take our ResyncDone
  // for the new one). What it had sent stays in the dirty map for the next session.
  if (source_active_) AbandonSourceSession();
  ReplHello hello;
  hello.epoch = ++hello_epoch_;
  hello.answers = answers;
  if (answers == 0) awaiting_answer_to_ = hello.epoch;
  hello.module = name_;
  hello.gens = durable_.gens;
  hello.primary = role_ == ReplRole::kPrimary;
  hello.inconsistent = ContentPartial();
  hello.crashed = Crashed();
  hello.disk_failed = durable_.disk_failed;
  hello.dirty = !durable_.dirty.empty() || !durable_.journal.empty();
  hello.alone_acked = durable_.alone_acked;
  hello.discard = discard_my_data_;
  hello.stream_start = next_lsn_;  // nothing is submitted until the decision
  hello.joined = durable_.joined;
  hello.zone_size = opt_.zone_size;
  hello.keep_aside_failed = keep_aside_retry_at_ != absl::InfiniteFuture();
  my_facts_ = CopyFacts::Of(hello);
  out.push_back(SendReplication{hello});
  link_ = Link::kHello;
  if (answers != 0) Decide(now, out);
}

bool Replica::Crashed() const { return durable_.lost_unsynced; }

void Replica::OnStart(bool lost_unsynced, Actions& out) {
  if (opt_.zone_size != configured_zone_size_) {
    Log(out, absl::StrCat("zone_size ", configured_zone_size_,
                          " takes effect once nothing is tracked; changes are tracked in zones of ",
                          opt_.zone_size, " bytes until then"));
  }
  if (durable_.zone_size != opt_.zone_size) Persist({record::SetZoneSize{opt_.zone_size}}, out);
  if (!lost_unsynced) return;
  std::vector<ReplicaRecord> records;
  if (!durable_.lost_unsynced) records.push_back(record::SetLostUnsynced{true});
  // The pages a failed flush left only in the page cache are gone: partial again.
  if (durable_.unflushed_only) records.push_back(record::SetInconsistent{true});
  // A journal entry is persisted before its change is applied, and an unlink or rename also
  // dropped the name's dirty zones: the restart may have undone the change here while the
  // journal still replays it on the peer. Each name it touched goes whole, as it is now,
  // after the replay.
  for (const Mutation& m : durable_.journal) {
    ForEachChangedName(m, [&](const std::string& path) {
      activity_log_.AddRecoveredName(path, durable_.hot_names, records);
    });
  }
  Persist(std::move(records), out);
}

void Replica::TakeInExistingData(Actions& out) {
  if (durable_.joined || durable_.gens != Generations{kInitialGeneration, 0, {}}) return;
  Persist({record::SetJoined{true}, record::SetGenerations{Generations{rng_.Next() | 1, 0, {}}}},
          out);
  data_state_ = DataState::kUnknown;
  Log(out, "this copy holds the data its directories held before the first start");
}

void Replica::RefreshHelloIfStale(Actions& out) {
  // Our generations changed while a handshake may be deciding on the old ones: offer the
  // new ones, so that both sides decide on the same, current facts. Not to a peer the
  // heartbeats declared lost: writes would wait for an answer that cannot come.
  if (connected_ && peer_reachable_ && (link_ != Link::kAttached || awaiting_answer_to_ != 0)) {
    SendHello(out);
  }
}

void Replica::Decide(absl::Time now, Actions& out) {
  assert(now != absl::InfinitePast());  // the session's clocks start now
  const ReplHello& peer = *peer_hello_;
  const bool i_primary = role_ == ReplRole::kPrimary;
  peer_copy_survives_ = own_copy_survives_ = false;  // this handshake decides again
  auto refuse = [&](std::string why) {
    link_ = Link::kRefused;
    refused_reason_ = std::move(why);
    if (!i_primary) data_state_ = DataState::kOutdated;
    Log(out, "replication refused: " + refused_reason_);
    if (i_primary) DrainPending(now, out);  // writes that waited for the handshake go alone
  };
  if (peer.stream_start == 0) return refuse("the peer's Hello names no stream start (lsn 0)");
  // Both sides decide from the two Hellos as they were sent (ours is `my_facts_`).
  const SessionVerdict verdict = DecideSession(
      my_facts_, CopyFacts::Of(peer), SessionPolicy{opt_.split_brain, opt_.default_primary_here});
  std::string reason = SessionRuleReason(verdict.rule);
  if (verdict.rule == SessionRule::kZoneSizesDiffer) {
    absl::StrAppend(&reason, " (here ", my_facts_.zone_size, " bytes, the peer ", peer.zone_size,
                    ")");
  }
  if (const std::string choice = DescribeChoice(verdict); !choice.empty()) Log(out, choice);
  // No session until the serving side has handed the module over: the pair decides again.
  auto wait_for_handover = [&] {
    link_ = Link::kRefused;
    refused_reason_ = absl::StrCat(SessionFitReason(verdict.fit), " (", verdict.Name(), ")");
    Log(out, "replication waits: " + refused_reason_);
  };
  switch (verdict.outcome) {
    case SessionOutcome::kRefuse:
      return refuse(reason);
    case SessionOutcome::kHandOver:
      // Node hands the module over once the peer can take it (peer_copy_survives); the pair
      // decides again when this node is secondary.
      peer_copy_survives_ = true;
      wait_for_handover();
      DrainPending(now, out);  // writes that waited for the handshake go alone
      return;
    case SessionOutcome::kAwaitHandOver:
      own_copy_survives_ = true;
      // The copy that survives may serve: whatever it was marked, it is the reference.
      if (durable_.outdated) Persist({record::SetOutdated{false}}, out);
      data_state_ = DataState::kUpToDate;
      wait_for_handover();
      return;
    case SessionOutcome::kAttach:
      break;
  }
  const bool self_source = verdict.self_source;
  const bool full = verdict.full;
  const std::string decision_name = verdict.Name();
  refused_reason_.clear();
  discard_my_data_ = false;  // done with (or not needed: no split brain)
  link_ = Link::kAttached;
  // The peer holds (or held) our current: the next writes made alone need a new one.
  const uint64_t mine = durable_.gens.current;
  if (mine == peer.gens.current || mine == peer.gens.bitmap ||
      std::find(peer.gens.history.begin(), peer.gens.history.end(), mine) !=
          peer.gens.history.end()) {
    std::vector<ReplicaRecord> records;
    ShareCurrent(records);
    Persist(std::move(records), out);
  }
  // Both hold the module's data from now on; a full resync's target only once it is done.
  full_resync_ = full;
  if (full && !self_source) {
    // Blank until done (the admin's choice of unrelated data included): an interrupted full
    // resync starts over at the next handshake without asking the admin again.
    const Generations blank{kInitialGeneration, 0, {}};
    std::vector<ReplicaRecord> records;
    if (durable_.joined) records.push_back(record::SetJoined{false});
    if (durable_.gens != blank) records.push_back(record::SetGenerations{blank});
    Persist(std::move(records), out);
  } else if (!durable_.joined) {
    Persist({record::SetJoined{true}}, out);
  }
  restart_session_at_ = absl::InfiniteFuture();  // this is the new session
  // What this copy lost in a machine restart is in this session's plan (either way).
  if (durable_.lost_unsynced) Persist({record::SetLostUnsynced{false}}, out);
  // A new stream session. Receiving side: it starts at the lsn the peer's Hello named, so a
  // first write lost on the way is a gap, not a new start.
  ++session_;
  stream_failures_ = 0;
  names_refused_ = 0;
  late_refusals_ = 0;
  ForgetRefusals();
  expect_lsn_ = peer.stream_start;
  stream_done_.clear();
  done_after_unsent_.clear();
  done_lsn_ = durable_lsn_ = acked_done_ = acked_durable_ = peer.stream_start - 1;
  flush_in_flight_ = false;
  // Sending side: see the end of this function.
  const uint64_t session_start = next_lsn_;
  // A new session: whatever the last one had in flight for resync is void.
  AbandonSourceSession();
  target_active_ = false;
  awaiting_listing_keep_aside_ = false;
  held_until_kept_.clear();
  Log(out, absl::StrCat("connected: ", decision_name, "; this node is ",
                        self_source ? "the source" : "the target"));
  peer_outdated_ = false;  // attached again: the next time alone needs a new outdate
  // What is still in flight from before the peer did not acknowledge (it was dropped, or
  // asked for a new session after a failure) completes by the outdate rule only; this
  // session's writes (the journal replay first) need the peer's acknowledgement.
  for (InFlight& f : inflight_) f.alone = !PeerHas(f);  // by the watermark or its own ack
  if (self_source) {
    if (durable_.outdated) Persist({record::SetOutdated{false}}, out);
    // A copy whose flush failed (EIO) may be the best source (its page cache holds what it
    // sends) but is never promotable: a restart loses those zones. It is, once a resync from
    // the peer rewrote them (FinishTarget clears disk_failed).
    if (!i_primary) {
      data_state_ = durable_.disk_failed ? DataState::kOutdated : DataState::kUpToDate;
    }
    StartSource(now, out);
  } else {
    // Behind if the peer's generation is newer, or it holds a plan (a drop left zones dirty).
    // This copy's branch is kept aside whenever the source lacks it (its generation is newer
    // or split), not only when the verdict says so: a partial copy's resync "resumes"
    // (kPartialResumes) even if its keep-aside failed or was cut by a crash; once kept,
    // preserved_for says so.
    const bool branch_unknown_there = !full && (verdict.generations == SyncDecision::kSplitBrain ||
                                                verdict.generations == SyncDecision::kSelfIsSource);
    StartTarget(verdict.discard || branch_unknown_there, verdict.behind, out);
  }
  // Nothing of this session is acknowledged yet (the zones the peer might lack from the last
  // one went into the plan above, judged by the old watermarks).
  peer_done_lsn_ = peer_durable_lsn_ = session_start - 1;
  peer_done_past_ = 0;
  last_ack_progress_ = now;
  if (i_primary) DrainPending(now, out);
}

// --- Completions -------------------------------------------------------------------------------

void Replica::OnApplied(absl::Time now, uint64_t apply_id, const absl::Status& status,
                        Actions& out) {
  auto it = applying_.find(apply_id);
  if (it == applying_.end()) return;
  const Applying a = it->second;
  applying_.erase(it);
  if (IsNotCarriedOut(status)) return OnNotCarriedOut(now, a, out);
  switch (a.kind) {
    case Applying::Kind::kLocal:
      return OnLocalApplied(now, a, status, out);
    case Applying::Kind::kTracked:
      return OnTrackedApplied(a, status, out);
    case Applying::Kind::kStream:
      return OnStreamApplied(now, a, status, out);
    case Applying::Kind::kFlush:
      return OnStreamFlushed(now, apply_id, a, status, out);
    case Applying::Kind::kBlock:
      return OnBlockApplied(now, a, status, out);
    case Applying::Kind::kLocalFlush:
      return OnLocalFlushed(apply_id, a, status, out);
    case Applying::Kind::kSourceFlush:
      return OnSourceFlushed(now, a, status, out);
    case Applying::Kind::kCleanFlush:
      return OnCleanFlushed(now, a, status, out);
    case Applying::Kind::kFinalFlush:
      return OnFinalFlushed(now, apply_id, a, status, out);
  }
}

Replica::Applying Replica::Touched(Applying::Kind kind, uint64_t key, const Mutation& m) {
  Applying a{kind, key};
  a.mutation = m.kind;
  a.path = m.path;
  a.path2 = m.path2;
  a.rename_flags = m.rename_flags;
  // A data mutation: the bytes it changes (a fallocate that changes none: its offset's zone,
  // what a failed apply asks for again).
  const std::optional<ChangedBytes> changed = ChangedBytesOf(m);
  a.offset = changed ? changed->offset : m.offset;
  a.length = changed ? changed->length : m.data_size();
  a.durable = m.is_durable();
  return a;
}

// --- Messages ----------------------------------------------------------------------------------

void Replica::OnMessage(absl::Time now, const ReplMessage& message, Actions& out) {
  if (awaiting_listing_keep_aside_ && target_active_ &&
      (std::holds_alternative<ReplWrite>(message) || std::holds_alternative<ResyncBlock>(message) ||
       std::holds_alternative<ResyncSame>(message))) {
    // A full resync's target keeps every name aside before anything overwrites it: the
    // source's blocks and the stream wait for the listing (OnTreeListed).
    held_until_kept_.push_back(message);
    return;
  }
  std::visit(Overloaded{
                 [&](const ReplHello& hello) {
                   peer_hello_ = hello;
                   if (!connected_) return;
                   if (hello.answers == 0) {
                     // Both sent one at once: the default primary's is the one answered.
                     if (awaiting_answer_to_ != 0 && opt_.default_primary_here) return;
                     awaiting_answer_to_ = 0;
                     SendHello(out, hello.epoch, now);  // answers it, and decides
                     return;
                   }
                   if (hello.answers != awaiting_answer_to_) return;  // to a cancelled one
                   awaiting_answer_to_ = 0;
                   Decide(now, out);
                 },
                 [&](const ReplTargetZones& zones) {
                   // To a target, the source's zones to compare; to a source, the target's.
                   if (target_active_) return OnSourceHotZones(zones, out);
                   OnTargetZones(now, zones, out);
                 },
                 [&](const ReplWrite& write) { ApplyStream(now, write, out); },
                 [&](const ReplAck& ack) {
                   // The watermark: it alone shows progress (a peer whose prefix is stuck is
                   // dropped at the timeout, whatever it acks past it) and takes namespace
                   // changes out of what a drop journals.
                   if (ack.done_lsn > peer_done_lsn_) {
                     peer_done_lsn_ = ack.done_lsn;
                     last_ack_progress_ = now;
                     while (!unacked_namespace_.empty() &&
                            unacked_namespace_.begin()->first <= peer_done_lsn_) {
                       unacked_namespace_.erase(unacked_namespace_.begin());
                     }
                   }
                   peer_durable_lsn_ = std::max(peer_durable_lsn_, ack.durable_lsn);
                   OnPeerDone(ack.done_after);
                   if (role_ == ReplRole::kPrimary) SettleRefusals(out);
                   CompleteReady(out);
                   DrainPending(now, out);
                   MaybeFinishSource(out);  // it may have waited for the journal replay
                 },
                 [&](const ResyncBlock& block) { ApplyBlock(block, out); },
                 [&](const ResyncBlockAck& ack) { OnBlockAck(now, ack, out); },
                 [&](const ResyncDone& done) {
                   OnResyncDone(done, out);
                   // A source's end makes the zones its crash left hot of known age: they
                   // cool at a pass like any other.
                   if (next_cooling_at_ == absl::InfiniteFuture()) {
                     next_cooling_at_ = now + opt_.activity_log_cooling;
                   }
                 },
                 [&](const ResyncSame& same) { ApplySame(same, out); },
                 [&](const ReplApplyOutcome& outcome) { OnApplyOutcome(outcome, out); },
             },
             message);
}

void Replica::Persist(std::vector<ReplicaRecord> records, Actions& out) {
  if (records.empty()) return;
  for (const ReplicaRecord& r : records) ApplyRecord(durable_, r, opt_.zone_size);
  out.push_back(PersistReplica{module_, std::move(records)});
}

void Replica::Log(Actions& out, std::string text) {
  out.push_back(LogEvent{module_, absl::StrCat(name_, ": ", text)});
}

}  // namespace duet
