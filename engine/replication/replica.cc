#include "engine/replication/replica.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"

namespace duet {
namespace {

uint64_t ZoneOf(uint64_t offset, uint32_t zone_size) { return offset / zone_size; }

// The zones [first, last] that `length` bytes at `offset` touch (none: the zone at offset).
std::pair<uint64_t, uint64_t> ZonesOf(uint64_t offset, uint64_t length, uint32_t zone_size) {
  const uint64_t first = ZoneOf(offset, zone_size);
  return {first, length == 0 ? first : ZoneOf(offset + length - 1, zone_size)};
}
std::pair<uint64_t, uint64_t> ZonesOf(const Mutation& m, uint32_t zone_size) {
  return ZonesOf(m.offset, m.data_size(), zone_size);
}

absl::Status DiskFailedError() {
  return absl::DataLossError(
      "EIO: an earlier flush of this copy failed; nothing written here is known durable until "
      "it is resynced from the peer");
}

}  // namespace

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
      journal_replayed_(!durable_.journal.empty()) {}

// --- Role and connection ---------------------------------------------------------------------

void Replica::SetRole(absl::Time now, ReplRole role, Actions& out) {
  if (role == ReplRole::kPrimary) fenced_ = false;
  if (role == role_) return;
  assert(role == ReplRole::kPrimary || drained());
  if (role_ == ReplRole::kPrimary) {
    // The writer's copy was the reference; a fenced one may have missed the new writer's,
    // and one whose flush failed may lose zones at its next restart.
    data_state_ = fenced_ || durable_.disk_failed ? DataState::kOutdated : DataState::kUpToDate;
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
    Log(out, "resync into this copy abandoned: it is primary now (forced)");
    target_active_ = false;
  }
  if (connected_) SendHello(out);  // the stream changes direction: agree again
  (void)now;
}

void Replica::OnPeerOutdated(absl::Time now, Actions& out) {
  if (peer_outdated_) return;
  peer_outdated_ = true;
  // From now on writes made alone are acknowledged: recorded first, so that after any
  // crash this branch counts as real in the next handshake.
  if (role_ == ReplRole::kPrimary && !durable_.alone_acked) Persist({record::SetAloneAcked{}}, out);
  for (auto& [op, status] : held_completions_) out.push_back(CompleteLocal{module_, op, status});
  held_completions_.clear();
  CompleteInOrder(out);
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

void Replica::AbandonSourceSession() {
  // What the session had read or sent stays in the dirty map: the next session resends it.
  source_active_ = false;
  reads_.clear();
  blocks_.clear();
  reading_.clear();
  unflushed_.clear();
  durable_there_.clear();
  clean_flush_in_flight_ = false;  // its completion belongs to the old session
  probes_.clear();
  list_id_ = 0;
  list_retry_at_ = absl::InfiniteFuture();
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
  CompleteInOrder(out);
}

void Replica::OnConnected(absl::Time now, Actions& out) {
  connected_ = true;
  (void)now;
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
  hello_sent_ = false;
  awaiting_answer_to_ = 0;
  expect_lsn_ = 0;
  AbandonSourceSession();
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
  my_facts_ = CopyFacts::Of(hello);
  out.push_back(SendReplication{hello});
  hello_sent_ = true;
  link_ = Link::kHello;
  if (answers != 0) Decide(now, out);
}

bool Replica::Crashed() const { return durable_.lost_unsynced; }

void Replica::OnStart(bool lost_unsynced, Actions& out) {
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

void Replica::RefreshHelloIfStale(Actions& out) {
  // Our generations changed while a handshake may be deciding on the old ones: offer the
  // new ones, so that both sides decide on the same, current facts.
  if (connected_ && (link_ != Link::kAttached || awaiting_answer_to_ != 0)) SendHello(out);
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
  const std::string reason = SessionRuleReason(verdict.rule);
  if (const std::string choice = DescribeChoice(verdict); !choice.empty()) Log(out, choice);
  switch (verdict.outcome) {
    case SessionOutcome::kRefuse:
      return refuse(reason);
    case SessionOutcome::kHandOver:
      // Node hands the module over once the peer can take it (peer_copy_survives); the pair
      // decides again when this node is secondary.
      peer_copy_survives_ = true;
      link_ = Link::kRefused;
      refused_reason_ = absl::StrCat(SessionFitReason(verdict.fit), " (", verdict.Name(), ")");
      Log(out, "replication waits: " + refused_reason_);
      DrainPending(now, out);  // writes that waited for the handshake go alone
      return;
    case SessionOutcome::kAwaitHandOver:
      own_copy_survives_ = true;
      link_ = Link::kRefused;
      refused_reason_ = absl::StrCat(SessionFitReason(verdict.fit), " (", verdict.Name(), ")");
      // The copy that survives may serve: whatever it was marked, it is the reference.
      if (durable_.outdated) Persist({record::SetOutdated{false}}, out);
      data_state_ = DataState::kUpToDate;
      Log(out, "replication waits: " + refused_reason_);
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
  expect_lsn_ = peer.stream_start;
  stream_done_.clear();
  done_lsn_ = durable_lsn_ = acked_done_ = acked_durable_ = peer.stream_start - 1;
  flush_in_flight_ = false;
  // Sending side: see the end of this function.
  const uint64_t session_start = next_lsn_;
  // A new session: whatever the last one had in flight for resync is void.
  AbandonSourceSession();
  target_active_ = false;
  Log(out, absl::StrCat("connected: ", decision_name, "; this node is ",
                        self_source ? "the source" : "the target"));
  peer_outdated_ = false;  // attached again: the next time alone needs a new outdate
  // What is still in flight from before the peer did not acknowledge (it was dropped, or
  // asked for a new session after a failure) completes by the outdate rule only; this
  // session's writes (the journal replay first) need the peer's acknowledgement.
  for (InFlight& f : inflight_) f.alone = f.alone || f.lsn > peer_done_lsn_;
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
    StartTarget(verdict.discard, verdict.behind, out);
  }
  // Nothing of this session is acknowledged yet (the zones the peer might lack from the last
  // one went into the plan above, judged by the old watermarks).
  peer_done_lsn_ = peer_durable_lsn_ = session_start - 1;
  last_ack_progress_ = now;
  if (i_primary) DrainPending(now, out);
}

// --- Primary: local mutations ------------------------------------------------------------------

void Replica::OnLocalMutation(absl::Time now, uint64_t op_id, Mutation mutation, Actions& out) {
  if (role_ != ReplRole::kPrimary) {
    out.push_back(
        CompleteLocal{module_, op_id, absl::FailedPreconditionError("read-only: not primary")});
    return;
  }
  const bool handshaking = connected_ && link_ == Link::kHello;
  if (handshaking || (attached() && !pending_.empty())) {
    if (handshaking && pending_.empty()) hello_wait_since_ = now;
    pending_.push_back(Pending{op_id, std::move(mutation)});
    DrainPending(now, out);
    return;
  }
  if (attached()) {
    pending_.push_back(Pending{op_id, std::move(mutation)});
    DrainPending(now, out);
  } else {
    Track(op_id, std::move(mutation), out);
  }
}

void Replica::DrainPending(absl::Time now, Actions& out) {
  while (!pending_.empty()) {
    if (attached()) {
      const uint64_t size = pending_.front().mutation.data_size();
      const bool room = inflight_.empty() || (inflight_.size() < opt_.window_count &&
                                              inflight_bytes_ + size <= opt_.window_bytes);
      if (!room) return;  // backpressure: waits for acknowledgements
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      Submit(now, p.op_id, std::move(p.mutation), /*apply_locally=*/true, out);
    } else if (connected_ && link_ == Link::kHello) {
      return;  // the handshake decides
    } else {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      Track(p.op_id, std::move(p.mutation), out);
    }
  }
}

void Replica::Submit(absl::Time now, uint64_t op_id, Mutation m, bool apply_locally, Actions& out) {
  const uint64_t lsn = next_lsn_++;
  std::vector<ReplicaRecord> records;
  // A journal replay (not applied here) was tracked when it was made: moving dirty zones
  // again would apply old renames to today's names.
  const uint64_t durable_on_both = std::min(peer_durable_lsn_, local_durable_lsn_);
  if (m.is_namespace() && apply_locally) {
    TrackNamespace(m, /*journal=*/false, records);
    ForEachChangedName(m, [&](const std::string& path) {
      activity_log_.TouchName(path, lsn, durable_.hot_names, records);
    });
  }
  if (m.kind == MutationKind::kWrite) {
    const auto [first, last] = ZonesOf(m, opt_.zone_size);
    activity_log_.Touch(m.path, first, last, lsn, durable_on_both, durable_.hot, records);
  }
  activity_log_.CoolNames(durable_on_both, records);
  Persist(std::move(records), out);  // hot before sent
  InFlight entry;
  entry.lsn = lsn;
  entry.op_id = op_id;
  entry.local_done = !apply_locally;
  entry.bytes = m.data_size();
  entry.fsync = m.kind == MutationKind::kFsync;
  if (apply_locally) {
    const uint64_t id = NextId();
    applying_[id] = Touched(Applying::Kind::kLocal, lsn, m);
    out.push_back(ApplyMutation{module_, id, m, m.kind == MutationKind::kFsync});
  }
  if (inflight_.empty()) last_ack_progress_ = now;
  inflight_bytes_ += entry.bytes;
  if (m.is_namespace() && apply_locally) {
    Mutation copy = m;
    copy.data.reset();
    unacked_namespace_[lsn] = std::move(copy);
  }
  out.push_back(SendReplication{ReplWrite{name_, lsn, std::move(m)}});
  inflight_.push_back(std::move(entry));
}

bool Replica::MovedOnAlone() const {
  return durable_.gens.bitmap != 0 && durable_.drawn_alone == durable_.gens.current;
}

void Replica::MoveGenerationOn(std::vector<ReplicaRecord>& records) {
  // An open dirty map is not enough: the peer may hold our current (a resync target takes it
  // at its end, which may never reach us). Then the writes made alone from now on need a
  // generation of their own, or they would pass for the peer's data at the next handshake.
  if (MovedOnAlone()) return;
  Generations gens = durable_.gens;
  StartTracking(gens, rng_.Next() | 1);
  records.push_back(record::SetGenerations{gens});
  records.push_back(record::SetDrawnAlone{gens.current});
}

void Replica::ShareCurrent(std::vector<ReplicaRecord>& records) {
  if (durable_.drawn_alone != 0) records.push_back(record::SetDrawnAlone{0});
}

void Replica::Track(uint64_t op_id, Mutation m, Actions& out) {
  std::vector<ReplicaRecord> records;
  MoveGenerationOn(records);
  if (m.kind == MutationKind::kWrite) {
    const auto [first, last] = ZonesOf(m, opt_.zone_size);
    bool all_dirty = true;
    for (uint64_t z = first; z <= last && all_dirty; ++z) {
      all_dirty = durable_.dirty.Contains(m.path, z);
    }
    if (!all_dirty) records.push_back(record::MarkDirty{m.path, first, last});
  } else if (m.is_namespace()) {
    TrackNamespace(m, /*journal=*/true, records);
  }
  Persist(std::move(records), out);  // dirty before the write completes
  const uint64_t id = NextId();
  applying_[id] = Touched(Applying::Kind::kTracked, op_id, m);
  const bool durable = m.kind == MutationKind::kFsync;
  out.push_back(ApplyMutation{module_, id, std::move(m), durable});
}

void Replica::TrackNamespace(const Mutation& m, bool journal, std::vector<ReplicaRecord>& records) {
  switch (m.kind) {
    case MutationKind::kRename:
      records.push_back(record::Renamed{m.path, m.path2});
      activity_log_.Rename(m.path, m.path2);
      break;
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      records.push_back(record::Removed{m.path});
      activity_log_.Remove(m.path);
      break;
    case MutationKind::kTruncate:
      records.push_back(record::Truncated{m.path, m.offset});
      break;
    default:
      break;
  }
  if (journal) {
    Mutation entry = m;
    entry.data.reset();
    records.push_back(record::Journal{std::move(entry)});
  }
}

void Replica::CompleteInOrder(Actions& out) {
  while (!inflight_.empty()) {
    InFlight& front = inflight_.front();
    const bool peer_has = !front.alone && front.lsn <= peer_done_lsn_;
    // Without the peer's ack, a mutation completes only once the peer is known outdated
    // (it cannot take over with its old copy), or fails if this node is fenced.
    const bool alone = front.alone || !attached();
    if (!front.local_done || !(peer_has || fenced_ || (alone && peer_outdated_))) break;
    if (front.op_id != 0 && !peer_has && !fenced_ && !attached() && !MovedOnAlone()) {
      // Sent before the peer was dropped and acknowledged without it: a write made alone,
      // so this branch moves on first, as in Track (else, with equal generations, the next
      // handshake may make the peer, which never got it, the source). Not while attached:
      // this session's resync, with the peer already inconsistent, carries it.
      std::vector<ReplicaRecord> records;
      MoveGenerationOn(records);
      Persist(std::move(records), out);
      RefreshHelloIfStale(out);
    }
    if (front.op_id != 0) {
      absl::Status status = front.local_status;
      if (fenced_ && !peer_has) status = absl::AbortedError("fenced: no longer primary");
      if (status.ok() && front.fsync && durable_.disk_failed) status = DiskFailedError();
      out.push_back(CompleteLocal{module_, front.op_id, status});
    }
    inflight_bytes_ -= front.bytes;
    inflight_.pop_front();
  }
}

void Replica::DropPeer(absl::Time now, const std::string& why, Actions& out) {
  Log(out, "dropping the peer (" + why + "); continuing alone, tracking changes");
  std::vector<ReplicaRecord> records;
  // The generation moves on at the first write made alone (Track) or acknowledged without
  // the peer (CompleteInOrder), not here: the peer has everything it acknowledged, and if
  // this node crashes now, the peer's copy must still count as the newer one for those
  // zones. The next Hello says we hold a plan (`dirty`).
  // Whatever the peer may lack: zones written but not yet durable there, and namespace
  // changes it has not acknowledged.
  activity_log_.ForEachNotDurable(peer_durable_lsn_, [&](const ZoneRef& ref) {
    if (!durable_.dirty.Contains(ref.path, ref.zone)) {
      records.push_back(record::MarkDirty{ref.path, ref.zone, ref.zone});
    }
  });
  for (const auto& [lsn, m] : unacked_namespace_) {
    if (lsn > peer_done_lsn_) records.push_back(record::Journal{m});
  }
  unacked_namespace_.clear();
  for (InFlight& f : inflight_) f.alone = f.lsn > peer_done_lsn_;
  peer_outdated_ = false;  // this time alone needs its own outdate of the peer
  Persist(std::move(records), out);
  link_ = Link::kDown;
  AbandonSourceSession();
  CompleteInOrder(out);  // what is applied here completes now: the peer is not needed
  DrainPending(now, out);
}

uint64_t Replica::LocalAppliedLsn() const {
  for (const InFlight& f : inflight_) {
    if (!f.local_done) return f.lsn - 1;
  }
  return next_lsn_ - 1;
}

// --- Completions -------------------------------------------------------------------------------

void Replica::OnApplied(absl::Time now, uint64_t apply_id, const absl::Status& status,
                        Actions& out) {
  auto it = applying_.find(apply_id);
  if (it == applying_.end()) return;
  const Applying a = it->second;
  applying_.erase(it);
  switch (a.kind) {
    case Applying::Kind::kLocal: {
      auto entry = std::lower_bound(inflight_.begin(), inflight_.end(), a.key,
                                    [](const InFlight& f, uint64_t lsn) { return f.lsn < lsn; });
      if (entry == inflight_.end() || entry->lsn != a.key) return;
      entry->local_done = true;
      entry->local_status = status;
      if (!status.ok()) OnLocalApplyFailed(a, status, out);
      CompleteInOrder(out);
      DrainPending(now, out);
      break;
    }
    case Applying::Kind::kTracked: {
      // A write made alone that failed is dirty already; only lost durability matters.
      if (!status.ok() && a.mutation == MutationKind::kFsync) {
        OnLocalDurabilityFailed(status, out);
      }
      absl::Status result = fenced_ ? absl::AbortedError("fenced: no longer primary") : status;
      if (result.ok() && a.mutation == MutationKind::kFsync && durable_.disk_failed) {
        result = DiskFailedError();
      }
      if (peer_outdated_ || fenced_) {
        out.push_back(CompleteLocal{module_, a.key, result});
      } else {
        held_completions_.emplace_back(a.key, result);  // until the peer is outdated
      }
      break;
    }
    case Applying::Kind::kStream:
      if (!status.ok() && a.durable) {
        // It may be applied, but is not known durable: never acknowledged. (From an earlier
        // session: that session's plan already holds what was not acknowledged durable.)
        if (a.session == session_) OnDurabilityFailedHere(now, status, out);
        break;
      }
      if (!status.ok()) OnStreamApplyFailed(a, status, out);
      if (a.key != 0 && a.session == session_) MarkStreamDone(a.key, out);
      break;
    case Applying::Kind::kFlush:
      if (a.session != session_) break;  // flushed for an earlier session
      flush_in_flight_ = false;
      if (!status.ok()) OnDurabilityFailedHere(now, status, out);
      if (status.ok()) ForgetSynced(apply_id);
      if (flush_failed_session_ == session_) break;  // nothing more is durable this session
      durable_lsn_ = std::max(durable_lsn_, a.key);
      if (flushed_blocks_upto_ > 0 && SessionDecided()) {
        out.push_back(SendReplication{ResyncBlockAck{name_, flushed_blocks_upto_, false, true}});
        flushed_blocks_upto_ = 0;
      }
      SendAck(out);
      break;
    case Applying::Kind::kBlock: {
      auto block = block_applies_.find(a.key);
      if (block == block_applies_.end()) break;
      if (!status.ok()) {
        // (A full disk.) Never acknowledged: the source keeps the zone in its plan, and the
        // resync starts again in a new session a little later.
        if (!block->second.failed) {
          Log(out, absl::StrCat("applying a resync block failed (", status.message(),
                                "); the resync starts again"));
        }
        block->second.failed = true;
        RestartSessionLater(now);
      }
      if (--block->second.left == 0) {
        const bool failed = block->second.failed;
        block_applies_.erase(block);
        if (failed) break;
        applied_blocks_upto_ = std::max(applied_blocks_upto_, a.key);
        if (SessionDecided()) {
          out.push_back(SendReplication{ResyncBlockAck{name_, a.key, false, false}});
        }
        if (next_flush_at_ == absl::InfiniteFuture()) next_flush_at_ = now + opt_.flush_interval;
      }
      MaybeFinishTarget(out);
      break;
    }
    case Applying::Kind::kLocalFlush:
      local_flush_in_flight_ = false;
      if (!status.ok()) OnLocalDurabilityFailed(status, out);
      if (status.ok()) ForgetSynced(apply_id);
      if (status.ok() && !durable_.disk_failed) {
        local_durable_lsn_ = std::max(local_durable_lsn_, a.key);
      }
      break;
    case Applying::Kind::kSourceFlush:
      if (!status.ok()) {
        // What we sent is not known durable here: the dirty map stays open, and the resync
        // runs again in a new session.
        OnLocalDurabilityFailed(status, out);
        if (a.session == session_ && source_active_) RestartSessionLater(now);
        break;
      }
      if (a.session == session_ && source_active_ && awaiting_done_confirm_) {
        // The target takes our current with this, even if its answer never reaches us.
        std::vector<ReplicaRecord> records;
        ShareCurrent(records);
        Persist(std::move(records), out);
        out.push_back(
            SendReplication{ResyncDone{name_, durable_.gens.current, target_requests_seen_}});
      }
      break;
    case Applying::Kind::kCleanFlush: {
      if (a.session != session_ || !source_active_) break;  // the zones stay in the plan
      clean_flush_in_flight_ = false;
      if (!status.ok()) {
        // Still dirty, so they turn hot: a crash here takes them back from the target.
        OnLocalDurabilityFailed(status, out);
        RestartSessionLater(now);
        break;
      }
      std::vector<ReplicaRecord> records;
      for (auto zone = durable_there_.begin();
           zone != durable_there_.end() && zone->first <= a.key;) {
        records.push_back(record::MarkClean{zone->second.path, zone->second.zone});
        reading_.erase(zone->second);
        zone = durable_there_.erase(zone);
      }
      Persist(std::move(records), out);
      IssueCleanFlush(out);
      MaybeFinishSource(out);
      break;
    }
    case Applying::Kind::kFinalFlush:
      if (a.session != session_) break;  // flushed for an earlier session's resync
      if (!status.ok()) {
        final_flush_started_ = false;
        OnDurabilityFailedHere(now, status, out);
        break;
      }
      ForgetSynced(apply_id);
      FinishTarget(out);
      break;
  }
}

// --- Secondary: applying the stream -----------------------------------------------------------

void Replica::ApplyStream(absl::Time now, const ReplWrite& w, Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    Log(out, "ignored a stream write from the peer: this node is primary");
    return;
  }
  if (!SessionDecided()) {
    // Sent in a session this node never decided (its Hello was answered after it sent
    // another): the peer completes it by the outdate rule and resyncs what it touched.
    Log(out, absl::StrCat("ignored stream write lsn ", w.lsn, ": no session decided"));
    return;
  }
  if (w.lsn != expect_lsn_) {
    Log(out, absl::StrCat("stream out of order: got lsn ", w.lsn, ", expected ", expect_lsn_,
                          "; ignored"));
    return;
  }
  ++expect_lsn_;
  const Mutation& m = w.mutation;
  if (target_active_) {
    if (m.kind == MutationKind::kWrite) {
      const auto [first, last] = ZonesOf(m, opt_.zone_size);
      for (uint64_t z = first; z <= last; ++z) live_zone_lsn_[ZoneRef{m.path, z}] = w.lsn;
      live_file_lsn_[m.path] = w.lsn;
    } else if (m.kind != MutationKind::kFsync) {
      live_path_lsn_[m.path] = w.lsn;
      if (!m.path2.empty()) live_path_lsn_[m.path2] = w.lsn;
      if (m.kind == MutationKind::kRename) {
        live_rename_lsn_ = w.lsn;
        FollowRename(m.path, m.path2, out);
      }
    }
  }
  const bool fsync = m.kind == MutationKind::kFsync;
  const bool durable = fsync || opt_.ack == AckMode::kDurable;
  const bool done_on_receipt = opt_.ack == AckMode::kReceived && !fsync;
  stream_done_[w.lsn] = false;
  const uint64_t id = NextId();
  NoteUnsynced(m, id);
  Applying applying = Touched(Applying::Kind::kStream, done_on_receipt ? 0 : w.lsn, m);
  applying.session = session_;
  applying.durable = durable;
  applying_[id] = std::move(applying);
  out.push_back(ApplyMutation{module_, id, m, durable});
  if (done_on_receipt) MarkStreamDone(w.lsn, out);
  if (next_flush_at_ == absl::InfiniteFuture()) next_flush_at_ = now + opt_.flush_interval;
}

void Replica::OnStreamApplyFailed(const Applying& a, const absl::Status& status, Actions& out) {
  // The primary's own apply may have failed the same way (a rename of a missing name): then
  // the copies still agree, but this side cannot know, so it asks for what the mutation
  // touched. Persisted first: a restart asks again.
  Log(out, absl::StrCat("applying the stream failed (", status.message(), ", ",
                        MutationKindName(a.mutation), " ", a.path,
                        "); this copy is inconsistent until resynced"));
  std::vector<ReplicaRecord> records;
  if (!durable_.inconsistent || durable_.unflushed_only) {
    records.push_back(record::SetInconsistent{true});
  }
  std::vector<std::string> whole;
  if (a.mutation == MutationKind::kWrite) {
    const auto [first, last] = ZonesOf(a.offset, a.length, opt_.zone_size);
    records.push_back(record::MarkDirty{a.path, first, last});
  } else {
    // A name changed: the path (and a rename's target) comes again whole; the journal
    // keeps the names for the next session.
    Mutation names = MakeMutation(a.mutation, a.path, a.path2);
    records.push_back(record::Journal{std::move(names)});
    ForEachChangedName(a.mutation, a.path, a.path2,
                       [&](const std::string& path) { whole.push_back(path); });
  }
  Persist(std::move(records), out);
  data_state_ = DataState::kOutdated;
  if (!connected_ || role_ == ReplRole::kPrimary) return;
  if (target_active_) {
    // Mid-resync: ask the running session (its ResyncDone waits for this request).
    data_state_ = DataState::kSyncing;
    if (a.mutation == MutationKind::kWrite) {
      std::vector<uint64_t> zones;
      const auto [first, last] = ZonesOf(a.offset, a.length, opt_.zone_size);
      for (uint64_t z = first; z <= last; ++z) {
        zones.push_back(z);
      }
      RequestFromSource(a.path, std::move(zones), false, out);
    }
    for (std::string& path : whole) RequestFromSource(std::move(path), {}, false, out);
  } else if (link_ == Link::kAttached) {
    SendHello(out);  // a new session, in which this copy is the target
  }
}

void Replica::RestartSessionLater(absl::Time now) {
  // Not at once: a disk that keeps failing would otherwise spin resync sessions.
  if (restart_session_at_ == absl::InfiniteFuture())
    restart_session_at_ = now + opt_.flush_interval;
}

void Replica::NoteUnsynced(const Mutation& m, uint64_t apply_id) {
  if (m.kind == MutationKind::kFsync) return;
  if (m.kind == MutationKind::kWrite) {
    const auto [first, last] = ZonesOf(m, opt_.zone_size);
    for (uint64_t z = first; z <= last; ++z) unsynced_zones_[ZoneRef{m.path, z}] = apply_id;
    return;
  }
  // A size or a mode travels with a zone (the last one sets the size, the first the mode):
  // the file need not come whole.
  if (m.kind == MutationKind::kTruncate) {
    const uint64_t last = ZonesOf(0, m.offset, opt_.zone_size).second;  // of the new size
    unsynced_zones_[ZoneRef{m.path, last}] = apply_id;
    return;
  }
  if (m.kind == MutationKind::kSetattr) {
    unsynced_zones_[ZoneRef{m.path, 0}] = apply_id;
    return;
  }
  ForEachChangedName(m, [&](const std::string& path) { unsynced_names_[path] = apply_id; });
}

void Replica::ForgetSynced(uint64_t flush_id) {
  absl::erase_if(unsynced_zones_, [&](const auto& entry) { return entry.second < flush_id; });
  absl::erase_if(unsynced_names_, [&](const auto& entry) { return entry.second < flush_id; });
}

void Replica::MarkUnsyncedLost(std::vector<ReplicaRecord>& records) {
  if (!durable_.disk_failed) records.push_back(record::SetDiskFailed{true});
  for (const auto& [ref, id] : unsynced_zones_) {
    activity_log_.AddRecovered(ref.path, ref.zone, durable_.hot, records);
  }
  for (const auto& [path, id] : unsynced_names_) {
    activity_log_.AddRecoveredName(path, durable_.hot_names, records);
  }
  unsynced_zones_.clear();
  unsynced_names_.clear();
}

void Replica::OnDurabilityFailedHere(absl::Time now, const absl::Status& status, Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    // A flush issued as secondary that ended after a promotion: this is the writer's copy
    // now, never inconsistent (a handshake would overwrite what it acknowledged alone). It
    // lost what it had not synced, as after a failed local flush.
    flush_in_flight_ = false;
    flush_failed_session_ = session_;
    OnLocalDurabilityFailed(status, out);
    return;
  }
  // Linux marks the pages of a failed writeback clean: a later flush that succeeds does not
  // write them, so nothing applied in this session may be called durable any more. The copy
  // is not promotable until a resync rewrote what the primary has not seen durable here (its
  // plan: zones written above our last durable acknowledgement), in a new session.
  Log(out, absl::StrCat("disk: a flush failed (", status.message(),
                        "); this copy is inconsistent until resynced"));
  std::vector<ReplicaRecord> records;
  MarkUnsyncedLost(records);
  if (!durable_.inconsistent) records.push_back(record::SetInconsistent{true, true});
  Persist(std::move(records), out);
  data_state_ = target_active_ ? DataState::kSyncing : DataState::kOutdated;
  flush_in_flight_ = false;
  flush_failed_session_ = session_;
  RestartSessionLater(now);
}

void Replica::OnLocalDurabilityFailed(const absl::Status& status, Actions& out) {
  // As above, for the writer's own copy: what was not yet durable here when the flush failed
  // may be gone after a crash however later flushes end (persisted: a restart does not
  // mend the disk). Zones written here stay hot (a crash then takes them from the peer,
  // which acknowledged them), the dirty zones (written alone, not yet sent) become hot too,
  // so that closing the dirty map after a resync does not forget them, and every later
  // fsync fails: it could not promise durability. Resyncing this copy from the peer ends it.
  std::vector<ReplicaRecord> records;
  if (!durable_.disk_failed) {
    Log(out, absl::StrCat("disk: a local flush failed (", status.message(),
                          "); fsyncs fail here until this copy is resynced from the peer"));
  }
  MarkUnsyncedLost(records);  // what it applied as a secondary before it was promoted
  for (const auto& [path, zones] : durable_.dirty.files()) {
    zones.ForEach([&](uint64_t z) { activity_log_.AddRecovered(path, z, durable_.hot, records); });
  }
  Persist(std::move(records), out);
}

void Replica::OnLocalApplyFailed(const Applying& a, const absl::Status& status, Actions& out) {
  Log(out, absl::StrCat("local apply failed (", status.message(), ", ",
                        MutationKindName(a.mutation), " ", a.path, ")"));
  if (a.mutation == MutationKind::kFsync) {
    OnLocalDurabilityFailed(status, out);
    return;
  }
  // The peer may have applied what failed here (a full disk): what the mutation touched
  // goes to it again from this copy, in a new session, before the copies count as equal.
  std::vector<ReplicaRecord> records;
  if (a.mutation == MutationKind::kWrite) {
    const auto [first, last] = ZonesOf(a.offset, a.length, opt_.zone_size);
    records.push_back(record::MarkDirty{a.path, first, last});
  } else {
    ForEachChangedName(a.mutation, a.path, a.path2, [&](const std::string& path) {
      activity_log_.AddRecoveredName(path, durable_.hot_names, records);
    });
  }
  Persist(std::move(records), out);
  if (attached()) SendHello(out);
}

Replica::Applying Replica::Touched(Applying::Kind kind, uint64_t key, const Mutation& m) {
  Applying a{kind, key};
  a.mutation = m.kind;
  a.path = m.path;
  a.path2 = m.path2;
  a.offset = m.offset;
  a.length = m.data_size();
  return a;
}

void Replica::RequestFromSource(std::string path, std::vector<uint64_t> zones, bool last,
                                Actions& out) {
  ++target_requests_sent_;
  // A ResyncDone received before this request does not cover it (a stream rename can move
  // requests while the final flush runs): wait for the next one, which the source sends once
  // it served this request. Finishing now would leave the source waiting for block acks
  // that a finished target never sends.
  done_current_.reset();
  if (!path.empty()) {
    Requested& r = requested_[path];
    if (zones.empty()) r.whole = true;
    r.zones.insert(r.zones.end(), zones.begin(), zones.end());
  }
  out.push_back(SendReplication{ReplTargetZones{name_, std::move(path), std::move(zones), last}});
}

void Replica::FollowRename(const std::string& from, const std::string& to, Actions& out) {
  std::vector<std::pair<std::string, Requested>> moved;
  for (const auto& [path, r] : requested_) {
    if (path == from ||
        (path.size() > from.size() && path.starts_with(from) && path[from.size()] == '/')) {
      moved.emplace_back(to + path.substr(from.size()), r);
    }
  }
  for (auto& [path, r] : moved) {
    if (!r.zones.empty()) RequestFromSource(path, std::move(r.zones), false, out);
    if (r.whole) RequestFromSource(path, {}, false, out);
  }
}

void Replica::MarkStreamDone(uint64_t lsn, Actions& out) {
  if (lsn <= done_lsn_) return;
  stream_done_[lsn] = true;
  while (!stream_done_.empty() && stream_done_.begin()->second) {
    done_lsn_ = stream_done_.begin()->first;
    stream_done_.erase(stream_done_.begin());
  }
  if (opt_.ack == AckMode::kDurable && flush_failed_session_ != session_) durable_lsn_ = done_lsn_;
  SendAck(out);
}

void Replica::SendAck(Actions& out) {
  if (!SessionDecided()) return;
  if (done_lsn_ == acked_done_ && durable_lsn_ == acked_durable_) return;
  acked_done_ = done_lsn_;
  acked_durable_ = durable_lsn_;
  out.push_back(SendReplication{ReplAck{name_, done_lsn_, durable_lsn_}});
}

// --- Messages ----------------------------------------------------------------------------------

void Replica::OnMessage(absl::Time now, const ReplMessage& message, Actions& out) {
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
                 [&](const ReplTargetZones& zones) { OnTargetZones(now, zones, out); },
                 [&](const ReplWrite& write) { ApplyStream(now, write, out); },
                 [&](const ReplAck& ack) {
                   if (ack.done_lsn > peer_done_lsn_) {
                     peer_done_lsn_ = ack.done_lsn;
                     last_ack_progress_ = now;
                     while (!unacked_namespace_.empty() &&
                            unacked_namespace_.begin()->first <= peer_done_lsn_) {
                       unacked_namespace_.erase(unacked_namespace_.begin());
                     }
                   }
                   peer_durable_lsn_ = std::max(peer_durable_lsn_, ack.durable_lsn);
                   CompleteInOrder(out);
                   DrainPending(now, out);
                   MaybeFinishSource(out);  // it may have waited for the journal replay
                 },
                 [&](const ResyncBlock& block) { ApplyBlock(block, out); },
                 [&](const ResyncBlockAck& ack) { OnBlockAck(now, ack, out); },
                 [&](const ResyncDone& done) { OnResyncDone(done, out); },
             },
             message);
}

// --- Resync: source ----------------------------------------------------------------------------

void Replica::StartSource(absl::Time now, Actions& out) {
  std::vector<ReplicaRecord> records;
  // The plan is the dirty map itself (persisted), so an interrupted resync resumes from it.
  activity_log_.ForEachNotDurable(peer_durable_lsn_, [&](const ZoneRef& ref) {
    if (!durable_.dirty.Contains(ref.path, ref.zone)) {
      records.push_back(record::MarkDirty{ref.path, ref.zone, ref.zone});
    }
  });
  // Names a namespace mutation in flight changed (the peer may lack it, or this node lost it
  // in a crash): each goes whole, as it is here (kept hot until the resync is done, so a
  // restart plans them again).
  whole_paths_.clear();
  activity_log_.TakeNamesNotDurable(peer_durable_lsn_, [&](const std::string& path) {
    whole_paths_.insert(path);
    if (!durable_.dirty.Contains(path, 0)) records.push_back(record::MarkDirty{path, 0, 0});
  });
  // A replay the target may already have applied (an earlier session was interrupted) would
  // rename or truncate today's content there (a name a block has rewritten since): each name
  // the journal touches then goes whole, as it is here. The first replay stays incremental.
  if (journal_replayed_) {
    for (const Mutation& m : durable_.journal) {
      ForEachChangedName(m, [&](const std::string& path) {
        whole_paths_.insert(path);
        if (!durable_.dirty.Contains(path, 0)) records.push_back(record::MarkDirty{path, 0, 0});
      });
    }
  }
  journal_replayed_ = !durable_.journal.empty() && !full_resync_;
  Persist(std::move(records), out);
  // Namespace changes first, on the stream, so that the zones land on the right names. A
  // full resync sends every name whole instead.
  if (!full_resync_) {
    for (const Mutation& m : durable_.journal) {
      Submit(now, /*op_id=*/0, m, /*apply_locally=*/false, out);
    }
  }
  // The journal closes with the dirty map: not before the target acknowledged the replay (a
  // replayed change lost on the way would be lost for good).
  replay_end_lsn_ = next_lsn_ - 1;
  source_active_ = true;
  target_zones_complete_ = false;
  awaiting_done_confirm_ = false;
  target_requests_seen_ = 0;
  resync_total_ = durable_.dirty.zones() * opt_.zone_size;
  resync_done_ = 0;
  resync_started_ = now;
  next_read_at_ = now;
  if (full_resync_) IssueListTree(out);
  IssueReads(now, out);
}

void Replica::IssueListTree(Actions& out) {
  list_id_ = NextId();
  list_retry_at_ = absl::InfiniteFuture();
  out.push_back(ListTree{module_, list_id_});
}

void Replica::OnTreeListed(absl::Time now, const TreeListed& listed, Actions& out) {
  if (listed.list_id != list_id_ || list_id_ == 0) return;  // from an earlier session
  list_id_ = 0;
  if (!listed.status.ok()) {
    Log(out, absl::StrCat("full resync: listing this copy failed (", listed.status.message(),
                          "); retrying in 1s"));
    list_retry_at_ = now + absl::Seconds(1);
    return;
  }
  if (source_active_) {
    std::vector<ReplicaRecord> records;
    for (const std::string& path : listed.paths) {
      whole_paths_.insert(path);
      if (!durable_.dirty.Contains(path, 0)) {
        records.push_back(record::MarkDirty{path, 0, 0});
        resync_total_ += opt_.zone_size;
      }
    }
    Persist(std::move(records), out);
    IssueReads(now, out);
    MaybeFinishSource(out);
  } else if (target_active_) {
    // Every name here goes: kept aside first (never silently deleted), then overwritten with
    // the source's version, or removed where the source has none.
    if (!listed.paths.empty()) out.push_back(PreserveDivergent{module_, listed.paths});
    for (const std::string& path : listed.paths) RequestFromSource(path, {}, false, out);
    RequestFromSource("", {}, true, out);
  }
}

void Replica::OnTargetZones(absl::Time now, const ReplTargetZones& zones, Actions& out) {
  if (!source_active_) return;
  ++target_requests_seen_;
  // A late request (after `last`) reopens a resync that was about to be declared done.
  awaiting_done_confirm_ = false;
  std::vector<ReplicaRecord> records;
  if (!zones.path.empty()) {
    if (zones.zones.empty()) {
      whole_paths_.insert(zones.path);  // the target changed its names: send it whole
      if (reading_.contains(ZoneRef{zones.path, 0})) {
        // Its first zone went (or goes) already: learn the file's size with a probe read.
        const uint64_t id = NextId();
        probes_[id] = zones.path;
        out.push_back(ReadZone{module_, id, zones.path, 0, 0});
      }
      if (!durable_.dirty.Contains(zones.path, 0)) {
        records.push_back(record::MarkDirty{zones.path, 0, 0});
        resync_total_ += opt_.zone_size;
      }
    }
    for (uint64_t z : zones.zones) {
      const ZoneRef ref{zones.path, z};
      if (!durable_.dirty.Contains(zones.path, z)) {
        records.push_back(record::MarkDirty{zones.path, z, z});
        resync_total_ += opt_.zone_size;
      } else if (reading_.contains(ref)) {
        // Sent already (or being read), but asked again: a live write to it failed on the
        // target since. It goes again (a block in flight meanwhile is harmless).
        reading_.erase(ref);
        absl::erase_if(unflushed_, [&](const auto& entry) { return entry.second == ref; });
        absl::erase_if(durable_there_, [&](const auto& entry) { return entry.second == ref; });
      }
    }
  }
  Persist(std::move(records), out);
  if (zones.last) {
    target_zones_complete_ = true;
    // The target has marked its copy inconsistent (if behind) before sending this: it can
    // no longer take over with an older copy, so writes made alone may complete.
    OnPeerOutdated(now, out);
  }
  IssueReads(absl::InfinitePast(), out);
  MaybeFinishSource(out);
}

void Replica::IssueReads(absl::Time now, Actions& out) {
  if (!source_active_) return;
  while (reads_.size() + blocks_.size() < opt_.resync_reads) {
    if (opt_.resync_bandwidth != 0 && now != absl::InfinitePast() && now < next_read_at_) break;
    std::optional<ZoneRef> zone =
        durable_.dirty.FindFirst([&](const ZoneRef& ref) { return !reading_.contains(ref); });
    if (!zone) break;
    const uint64_t id = NextId();
    reads_[id] = {*zone, LocalAppliedLsn()};
    reading_.insert(*zone);
    out.push_back(ReadZone{module_, id, zone->path, zone->zone * opt_.zone_size, opt_.zone_size});
    if (opt_.resync_bandwidth != 0) {
      const absl::Time base =
          now == absl::InfinitePast() ? next_read_at_ : std::max(now, next_read_at_);
      next_read_at_ = base + absl::Seconds(static_cast<double>(opt_.zone_size) /
                                           static_cast<double>(opt_.resync_bandwidth));
    }
  }
}

void Replica::ExpandWholePath(const std::string& path, const ZoneRead& read, Actions& out) {
  // The target changed this path's names: every zone of our version goes over.
  if (!whole_paths_.contains(path) || read.kind != PathKind::kFile || read.file_size == 0) return;
  const uint64_t last = (read.file_size - 1) / opt_.zone_size;
  const uint64_t before = durable_.dirty.zones();
  Persist({record::MarkDirty{path, 0, last}}, out);
  resync_total_ += (durable_.dirty.zones() - before) * opt_.zone_size;
}

void Replica::OnZoneRead(absl::Time now, const ZoneRead& read, Actions& out) {
  if (auto probe = probes_.find(read.read_id); probe != probes_.end()) {
    const std::string path = probe->second;
    probes_.erase(probe);
    if (read.status.ok()) ExpandWholePath(path, read, out);
    IssueReads(now, out);
    MaybeFinishSource(out);
    return;
  }
  auto it = reads_.find(read.read_id);
  if (it == reads_.end()) return;  // from an earlier connection
  const auto [zone, lsn] = it->second;
  reads_.erase(it);
  if (!read.status.ok()) {
    reading_.erase(zone);
    Log(out, absl::StrCat("resync read of ", zone.path, " failed: ", read.status.message()));
    return;
  }
  ExpandWholePath(zone.path, read, out);
  ResyncBlock block;
  block.module = name_;
  block.block_id = NextId();
  block.path = zone.path;
  block.zone = zone.zone;
  block.data = read.data;
  block.read_lsn = lsn;
  block.kind = read.kind;
  block.file_size = read.file_size;
  block.mode = read.mode;
  block.link_target = read.link_target;
  block.total_bytes = resync_total_;
  block.done_bytes = resync_done_;
  blocks_[block.block_id] = zone;
  out.push_back(SendReplication{std::move(block)});
  IssueReads(now, out);
}

void Replica::OnBlockAck(absl::Time now, const ResyncBlockAck& ack, Actions& out) {
  if (ack.durable) {
    // Every block up to ack.block_id that the target applied is durable there; each zone
    // leaves the plan once our own copy of it is durable too.
    for (auto it = unflushed_.begin(); it != unflushed_.end() && it->first <= ack.block_id;) {
      durable_there_.insert(*it);
      it = unflushed_.erase(it);
    }
    IssueCleanFlush(out);
    MaybeFinishSource(out);
    return;
  }
  auto it = blocks_.find(ack.block_id);
  if (it == blocks_.end()) return;
  const ZoneRef zone = it->second;
  blocks_.erase(it);
  if (ack.stale) {
    reading_.erase(zone);  // read it again
  } else {
    // Sent: not read again in this session, and forgotten (MarkClean) once the target says
    // it is durable. A crash of the target before that resends it in the next session.
    unflushed_[ack.block_id] = zone;
    resync_done_ += opt_.zone_size;
  }
  IssueReads(now, out);
  MaybeFinishSource(out);
}

void Replica::MaybeFinishSource(Actions& out) {
  if (!source_active_ || !target_zones_complete_ || list_id_ != 0 ||
      list_retry_at_ != absl::InfiniteFuture() || !reads_.empty() || !blocks_.empty() ||
      !probes_.empty() || durable_.dirty.zones() != unflushed_.size() + durable_there_.size() ||
      peer_done_lsn_ < replay_end_lsn_ || awaiting_done_confirm_) {
    return;
  }
  awaiting_done_confirm_ = true;
  // What we sent must be durable here too before the dirty map closes: flush, then done.
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kSourceFlush, 0, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

void Replica::IssueCleanFlush(Actions& out) {
  if (clean_flush_in_flight_ || durable_there_.empty()) return;
  clean_flush_in_flight_ = true;
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kCleanFlush, durable_there_.rbegin()->first, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

// --- Resync: target ----------------------------------------------------------------------------

void Replica::StartTarget(bool discard, bool behind, Actions& out) {
  target_active_ = true;
  // Nothing of an earlier session's resync counts: its ResyncDone, blocks and final flush.
  done_current_.reset();
  final_flush_started_ = false;
  block_applies_.clear();
  live_zone_lsn_.clear();
  live_path_lsn_.clear();
  live_file_lsn_.clear();
  live_rename_lsn_ = 0;
  applied_blocks_upto_ = 0;
  flushed_blocks_upto_ = 0;
  target_requests_sent_ = 0;
  requested_.clear();
  // What this node changed or may hold that the peer lacks, all overwritten by the source:
  // the zones of its dirty map (written alone, or asked for after a failed apply), zones
  // written here as primary and not yet durable on the peer or left hot by a crash, and
  // whole paths for the names its journal touched or a namespace mutation in flight changed.
  std::vector<std::string> renamed;
  for (const Mutation& m : durable_.journal) {
    ForEachChangedName(m, [&](const std::string& path) { renamed.push_back(path); });
  }
  absl::btree_map<std::string, std::vector<uint64_t>> mine;
  for (const auto& [path, zones] : durable_.dirty.files()) {
    zones.ForEach([&](uint64_t z) { mine[path].push_back(z); });
  }
  // With a failed disk, every hot zone: this copy may lack it whatever the peer holds.
  const uint64_t peer_durable = durable_.disk_failed ? 0 : peer_durable_lsn_;
  // Of unknown age from now on: if this plan is interrupted before the source has it, the
  // next session's watermark must not make them look durable there.
  activity_log_.TakeNotDurable(peer_durable,
                               [&](const ZoneRef& ref) { mine[ref.path].push_back(ref.zone); });
  activity_log_.TakeNamesNotDurable(peer_durable,
                                    [&](const std::string& path) { renamed.push_back(path); });
  std::sort(renamed.begin(), renamed.end());
  renamed.erase(std::unique(renamed.begin(), renamed.end()), renamed.end());
  if (discard) {
    // Keep what we are about to overwrite first.
    std::vector<std::string> paths = renamed;
    for (const auto& [path, zones] : durable_.dirty.files()) paths.push_back(path);
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    out.push_back(PreserveDivergent{module_, paths});
  }
  for (auto& [path, zones] : mine) {
    std::sort(zones.begin(), zones.end());
    zones.erase(std::unique(zones.begin(), zones.end()), zones.end());
    RequestFromSource(path, std::move(zones), false, out);
  }
  for (const std::string& path : renamed) RequestFromSource(path, {}, false, out);
  // A full resync asks for every name this copy holds first: the last request follows the
  // listing (OnTreeListed).
  if (full_resync_) {
    IssueListTree(out);
  } else {
    RequestFromSource("", {}, true, out);
  }
  // Overwritten with a copy that differs from ours (newer, or ours diverged): partial until
  // done. Zones asked for only because a flush failed here come back the same.
  const bool overwritten =
      behind || discard || !durable_.dirty.empty() || !durable_.journal.empty();
  if (behind || discard || !mine.empty() || !renamed.empty() || durable_.inconsistent ||
      durable_.disk_failed) {
    if (!durable_.inconsistent || (overwritten && durable_.unflushed_only)) {
      Persist({record::SetInconsistent{true}}, out);
    }
    data_state_ = DataState::kSyncing;
    sync_percent_ = 0;
  } else if (durable_.outdated) {
    // Told it was outdated, yet the generations match: the primary wrote nothing alone.
    Persist({record::SetOutdated{false}}, out);
    data_state_ = DataState::kUpToDate;
  } else {
    data_state_ = DataState::kUpToDate;
  }
}

void Replica::ApplyBlock(const ResyncBlock& b, Actions& out) {
  if (!target_active_) return;
  if (b.total_bytes > 0) {
    sync_percent_ =
        static_cast<uint8_t>(std::min<uint64_t>(99, 100 * b.done_bytes / b.total_bytes));
  }
  auto zone_lsn = live_zone_lsn_.find(ZoneRef{b.path, b.zone});
  auto path_lsn = live_path_lsn_.find(b.path);
  // A block that sets the file's size (its last zone) or removes the path is stale after any
  // (A zone that ends exactly at the end of file sets the size too: the target may be longer.)
  // newer live write to the file, not only to its own zone: the size it carries is old.
  const bool sets_size = b.kind != PathKind::kFile || b.file_size <= (b.zone + 1) * opt_.zone_size;
  auto file_lsn = live_file_lsn_.find(b.path);
  const bool stale =
      (zone_lsn != live_zone_lsn_.end() && zone_lsn->second > b.read_lsn) ||
      (path_lsn != live_path_lsn_.end() && path_lsn->second > b.read_lsn) ||
      (sets_size && file_lsn != live_file_lsn_.end() && file_lsn->second > b.read_lsn) ||
      live_rename_lsn_ > b.read_lsn;
  if (stale) {
    out.push_back(SendReplication{ResyncBlockAck{name_, b.block_id, true, false}});
    return;
  }
  std::vector<Mutation> steps;
  switch (b.kind) {
    case PathKind::kAbsent:
      steps.push_back(MakeMutation(MutationKind::kRemoveTree, b.path));
      break;
    case PathKind::kDirectory: {
      Mutation mkdir = MakeMutation(MutationKind::kMkdir, b.path);
      mkdir.mode = b.mode;
      steps.push_back(std::move(mkdir));
      break;
    }
    case PathKind::kSymlink: {
      Mutation link = MakeMutation(MutationKind::kSymlink, b.path, b.link_target);
      steps.push_back(std::move(link));
      break;
    }
    case PathKind::kFile: {
      const uint64_t start = b.zone * opt_.zone_size;
      if (b.data && !b.data->empty()) {
        Mutation write = MakeMutation(MutationKind::kWrite, b.path);
        write.offset = start;
        write.data = b.data;
        steps.push_back(std::move(write));
      }
      if (b.file_size <= start + opt_.zone_size) {
        Mutation truncate = MakeMutation(MutationKind::kTruncate, b.path);
        truncate.offset = b.file_size;
        steps.push_back(std::move(truncate));
      }
      if (steps.empty()) {
        Mutation create = MakeMutation(MutationKind::kCreate, b.path);
        create.mode = b.mode;
        steps.push_back(std::move(create));
      } else if (b.zone == 0) {
        // The file may exist here with another mode (made by a journal replay, or chmod-ed
        // on one side only): its first zone makes the mode match.
        Mutation chmod = MakeMutation(MutationKind::kSetattr, b.path);
        chmod.mode = b.mode;
        chmod.mtime_ns = kKeepMtime;
        steps.push_back(std::move(chmod));
      }
      break;
    }
  }
  block_applies_[b.block_id] = BlockApply{steps.size(), false};
  for (Mutation& m : steps) {
    const uint64_t id = NextId();
    // The same zone, sent again, makes the path match whatever its kind: not the whole name.
    unsynced_zones_[ZoneRef{b.path, b.zone}] = id;
    applying_[id] = Applying{Applying::Kind::kBlock, b.block_id};
    out.push_back(ApplyMutation{module_, id, std::move(m), false});
  }
}

void Replica::OnResyncDone(const ResyncDone& done, Actions& out) {
  if (awaiting_done_confirm_ && source_active_) {
    // The target holds our data durably: close the dirty map.
    Generations gens = durable_.gens;
    gens.bitmap = 0;
    std::vector<ReplicaRecord> records = {record::ClearDirty{}, record::SetGenerations{gens}};
    journal_replayed_ = false;  // the journal closes
    if (!durable_.disk_failed) activity_log_.ForgetRecovered(records);
    Persist(std::move(records), out);
    source_active_ = false;
    awaiting_done_confirm_ = false;
    unflushed_.clear();
    durable_there_.clear();
    clean_flush_in_flight_ = false;
    peer_outdated_ = false;  // the peer is up to date again
    Log(out, absl::StrCat("resync done: ", resync_done_, " bytes sent"));
    if (durable_.disk_failed && role_ != ReplRole::kPrimary) {
      // The peer now holds durably what our failed flush may lose: a new session, in which
      // it is the source (it lost nothing), rewrites our hot zones.
      SendHello(out);
    } else {
      RefreshHelloIfStale(out);
    }
    return;
  }
  if (!target_active_) return;
  // Sent before the source saw our late request: the next ResyncDone covers it.
  if (done.requests_seen < target_requests_sent_) return;
  done_current_ = done.current;
  MaybeFinishTarget(out);
}

void Replica::MaybeFinishTarget(Actions& out) {
  if (!done_current_ || !block_applies_.empty() || final_flush_started_) return;
  // A flush failed in this session: Linux forgot the pages it could not write, so no later
  // flush makes this session's blocks durable. The session restarts (RestartSessionLater),
  // and the source, without our ResyncDone, still holds every zone in its plan.
  if (flush_failed_session_ == session_) return;
  final_flush_started_ = true;
  flush_requests_sent_ = target_requests_sent_;
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kFinalFlush, 0, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

void Replica::FinishTarget(Actions& out) {
  final_flush_started_ = false;
  if (!target_active_ || flush_failed_session_ == session_) return;  // as above
  if (target_requests_sent_ != flush_requests_sent_) {
    // A request went out during the flush: blocks answering it are not covered by this
    // flush. Flush again once a ResyncDone covering it arrived and they are applied.
    MaybeFinishTarget(out);
    return;
  }
  if (!done_current_) return;
  Generations gens = durable_.gens;
  if (gens.current != *done_current_) {
    gens.history[1] = gens.history[0];
    gens.history[0] = gens.current;
  }
  gens.current = *done_current_;
  gens.bitmap = 0;
  std::vector<ReplicaRecord> records = {
      record::ClearDirty{},           record::ClearHot{},         record::SetGenerations{gens},
      record::SetInconsistent{false}, record::SetOutdated{false}, record::SetDiskFailed{false}};
  if (!durable_.joined) records.push_back(record::SetJoined{true});  // a full resync's end
  ShareCurrent(records);  // the source's current, now ours too
  Persist(std::move(records), out);
  activity_log_.Clear();
  target_active_ = false;
  done_current_.reset();
  data_state_ = DataState::kUpToDate;
  sync_percent_ = 100;
  live_zone_lsn_.clear();
  live_path_lsn_.clear();
  live_file_lsn_.clear();
  requested_.clear();
  out.push_back(SendReplication{ResyncDone{name_, gens.current, 0}});
  Log(out, "resync done: this copy is up to date");
  RefreshHelloIfStale(out);
}

// --- Time --------------------------------------------------------------------------------------

void Replica::OnTick(absl::Time now, Actions& out) {
  if (now >= list_retry_at_ && (source_active_ || target_active_)) IssueListTree(out);
  if (role_ == ReplRole::kPrimary && !inflight_.empty() && attached() &&
      now - last_ack_progress_ >= opt_.timeout) {
    DropPeer(now, absl::StrCat("no acknowledgement for ", absl::FormatDuration(opt_.timeout)), out);
    // The connection may still be up (a stuck peer): offer a new session; if the peer
    // answers, it resyncs what it missed.
    if (connected_) SendHello(out);
  }
  if (role_ == ReplRole::kPrimary && !pending_.empty() && connected_ && link_ == Link::kHello &&
      now - hello_wait_since_ >= opt_.timeout) {
    link_ = Link::kDown;
    DropPeer(now, "no handshake answer", out);
  }
  if (role_ == ReplRole::kPrimary && LocalAppliedLsn() > local_durable_lsn_ &&
      !local_flush_in_flight_) {
    if (next_local_flush_at_ == absl::InfiniteFuture()) {
      next_local_flush_at_ = now + opt_.flush_interval;
    } else if (now >= next_local_flush_at_) {
      next_local_flush_at_ = absl::InfiniteFuture();
      local_flush_in_flight_ = true;
      const uint64_t id = NextId();
      applying_[id] = Applying{Applying::Kind::kLocalFlush, LocalAppliedLsn()};
      out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
    }
  }
  if (now >= next_flush_at_ && !flush_in_flight_) {
    next_flush_at_ = absl::InfiniteFuture();
    if (done_lsn_ > durable_lsn_ || applied_blocks_upto_ > flushed_blocks_upto_) {
      flush_in_flight_ = true;
      flushed_blocks_upto_ = applied_blocks_upto_;
      const uint64_t id = NextId();
      applying_[id] = Applying{Applying::Kind::kFlush, done_lsn_, session_};
      out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
    }
  }
  if (ReplayStalled(now)) {
    // A secondary source replays its journal on the stream: a write the transport lost on
    // the way stalls it for good (the target ignores what follows the gap). A new session
    // replays it again.
    Log(out, absl::StrCat("no acknowledgement of the journal replay for ",
                          absl::FormatDuration(opt_.timeout), "; starting a new session"));
    last_ack_progress_ = now;
    SendHello(out);
  }
  if (source_active_) IssueReads(now, out);
  if (now >= restart_session_at_) {
    restart_session_at_ = absl::InfiniteFuture();
    if (connected_ && link_ != Link::kRefused) SendHello(out);
  }
}

bool Replica::ReplayStalled(absl::Time now) const {
  return role_ != ReplRole::kPrimary && source_active_ && link_ == Link::kAttached && connected_ &&
         peer_done_lsn_ < replay_end_lsn_ && now - last_ack_progress_ >= opt_.timeout;
}

absl::Time Replica::NextDeadline() const {
  absl::Time next =
      std::min({next_flush_at_, next_local_flush_at_, restart_session_at_, list_retry_at_});
  if (role_ != ReplRole::kPrimary && source_active_ && link_ == Link::kAttached &&
      peer_done_lsn_ < replay_end_lsn_) {
    next = std::min(next, last_ack_progress_ + opt_.timeout);  // ReplayStalled
  }
  if (role_ == ReplRole::kPrimary && !inflight_.empty() && attached()) {
    next = std::min(next, last_ack_progress_ + opt_.timeout);
  }
  if (role_ == ReplRole::kPrimary && !pending_.empty() && connected_ && link_ == Link::kHello) {
    next = std::min(next, hello_wait_since_ + opt_.timeout);
  }
  if (source_active_ && opt_.resync_bandwidth != 0 && !durable_.dirty.empty() &&
      reads_.size() + blocks_.size() < opt_.resync_reads) {
    next = std::min(next, next_read_at_);
  }
  return next;
}

// --- Status ------------------------------------------------------------------------------------

DataState Replica::data_state() const {
  return role_ == ReplRole::kPrimary ? DataState::kUpToDate : data_state_;
}

uint8_t Replica::sync_percent() const {
  return data_state_ == DataState::kSyncing ? sync_percent_ : 100;
}

ResyncStatus Replica::resync_status(absl::Time now) const {
  ResyncStatus s;
  s.active = source_active_ || target_active_;
  s.source = source_active_;
  s.bytes_total = resync_total_;
  s.bytes_done = resync_done_;
  if (source_active_ && resync_done_ > 0 && now > resync_started_) {
    const double rate =
        opt_.resync_bandwidth != 0
            ? static_cast<double>(opt_.resync_bandwidth)
            : static_cast<double>(resync_done_) / absl::ToDoubleSeconds(now - resync_started_);
    const uint64_t left = resync_total_ > resync_done_ ? resync_total_ - resync_done_ : 0;
    s.eta = absl::Seconds(static_cast<double>(left) / rate);
  }
  return s;
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
