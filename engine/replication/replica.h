// Over 600 lines on purpose: it declares the one Replica class whose parts live in fifteen
// .cc files (stream, refusals, disk faults, resync source, window, holes, links, names
// under, target, digests, keep-aside, status); its sections follow those files, so the
// state each part owns sits beside that part's functions. Splitting it would mean a state
// object per part (next step of issue 11), not a shorter header.
// One module's replication on one node (DESIGN.md §4, §5): the synchronous stream from the
// primary, acknowledgement per ack mode, the dirty-zone map and namespace journal while the
// peer is away, the activity log, generation identifiers, and resync in either direction.
//
// Ordering rules it keeps (every Persist is durable before the actions after it run):
//  - a write's zones are hot in the activity log before the write is sent to the peer;
//  - a write made without the peer has its zones in the dirty map before it completes;
//  - a write that completes detached without the peer's ack (made alone, or in flight when
//    the peer was dropped) completes only after the generation moved on to one the peer
//    cannot hold (an open dirty map is not enough: a resync target takes the source's
//    current at its end, which may never reach the source);
//  - an application call completes only after the local apply and the peer's ack (an fsync:
//    durable on both), not after unrelated earlier calls (completion_order.h); a peer that
//    stops acknowledging for replication.timeout is dropped and everything in flight is
//    tracked as dirty, then completed;
//  - a resync block is applied on the target only if no live write newer than the block's
//    read reached the zone first (otherwise it is read again).
//  - a write both copies refused (failed having changed nothing: IsRefusal) leaves them
//    equal: it fails to the application with the primary's errno and nothing is resynced; one
//    refused on one side only sets the secondary back from the primary (replica_refusals.cc).
// The replica owns no clock and no I/O: Node routes inputs to it and carries out its actions.
// Its parts, each a file with its own contract at the top: the handshake (a pure function,
// session_decision.h), the session state machine (replica.cc), the primary's stream, the
// secondary's stream, the resync source (with its window, its runs of holes, its linked and
// renamed names, names under a directory), the resync target (with its digest comparisons),
// the keep-aside's answers, refusals, disk faults and status (replica_<part>.cc, in this
// header's sections below); their tests sit in tests/engine/ under the same names.
#ifndef DUET_ENGINE_REPLICATION_REPLICA_H_
#define DUET_ENGINE_REPLICATION_REPLICA_H_

#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/config.h"
#include "engine/inputs.h"
#include "engine/replication/activity_log.h"
#include "engine/replication/completion_order.h"
#include "engine/replication/replica_state.h"
#include "engine/replication/session_decision.h"
#include "engine/rng.h"

namespace duet {

struct ReplicaOptions {
  AckMode ack = AckMode::kApplied;
  uint32_t zone_size = 64 * 1024;
  uint64_t window_bytes = 64ull << 20;
  uint32_t window_count = 4096;
  absl::Duration timeout = absl::Seconds(5);
  uint64_t resync_bandwidth = 0;  // bytes per second, 0: no cap
  // The resync source's pipeline: bytes in flight (a zone's size while it is read, then what
  // its block carries until the target acknowledges it), so that the link stays full whether
  // zones carry data, holes or "the same"; and at most this many reads and blocks at once.
  uint64_t resync_window_bytes = 4ull << 20;
  uint32_t resync_reads = 1024;
  size_t activity_log_zones = 8192;
  // A hot zone durable on both nodes cools after this long without a write (ActivityLog::
  // CoolIdle), in one batch of records per pass, a pass at most once per this delay.
  absl::Duration activity_log_cooling = absl::Seconds(5);
  absl::Duration flush_interval = absl::Seconds(1);  // secondary: syncfs cadence
  bool default_primary_here = true;  // decides a split brain under the default policy
  SplitBrainPolicy split_brain = SplitBrainPolicy::kDiscardNonDefault;

  static ReplicaOptions From(const ModuleConfig& module, const ReplicationConfig& replication,
                             NodeIndex self);
};

enum class ReplRole : uint8_t { kSecondary, kPrimary };

struct ResyncStatus {
  bool active = false;
  bool source = false;
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  absl::Duration eta = absl::ZeroDuration();  // at the capped (or observed) rate
};

class Replica {
 public:
  Replica(ModuleIndex module, std::string name, ReplicaOptions options, ReplicaDurableState durable,
          Rng& rng);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;
  Replica(Replica&&) = default;

  // The process starts: `lost_unsynced` if the machine restarted (what was not synced is
  // gone), not if only the daemon did (the page cache kept it).
  void OnStart(bool lost_unsynced, Actions& out);
  // At this node's first start the adapter moved what the module's directories already held
  // into its backing directories: that data is the module's, under a lineage of its own (a
  // blank peer takes it whole; a peer that took in data too holds unrelated data, which waits
  // for the admin). Ignored once this copy joined the pair or wrote.
  void TakeInExistingData(Actions& out);
  // Node's decisions.
  void SetRole(absl::Time now, ReplRole role, Actions& out);
  void OnConnected(absl::Time now, Actions& out);
  void OnDisconnected(absl::Time now, const std::string& why, Actions& out);
  // Node's heartbeat verdict on the peer. Lost: a primary drops it at once (its writes go on
  // alone; a connection that still looks up carries nothing until the peer is heard again),
  // and no new session is offered to it. Back: a session is offered on a live connection.
  void SetPeerReachable(absl::Time now, bool reachable, Actions& out);
  // The primary writes without the peer (its dirty map is open): the peer's copy must be
  // marked outdated before those writes may complete (see OnPeerOutdated).
  bool writing_alone() const {
    return role_ == ReplRole::kPrimary && !attached() &&
           (durable_.gens.bitmap != 0 || !durable_.dirty.empty() || !inflight_.empty());
  }
  // The peer's copy is known outdated (it said so, or it is declared lost): writes made
  // alone may complete. Until then they are held.
  void OnPeerOutdated(absl::Time now, Actions& out);
  // The primary says it writes without us: this copy is old; persisted, so a restart keeps it.
  void MarkOutdated(Actions& out);
  // The admin resolves a split brain that waits for it: this copy loses its divergent changes
  // (kept aside) at the next handshake. Refused while this node is primary.
  absl::Status DiscardMyData(Actions& out);
  // This node stopped being the writer (fenced, or the peer took over): every mutation the
  // peer has not acknowledged fails instead of completing, since the peer may never have it.
  void Fence(Actions& out);
  // This copy stepped down fenced (so outdated: the peer may have taken over and written
  // since), and nothing has decided it since (no connection, disk fault or outdate).
  bool fenced_copy() const { return fenced_copy_; }
  // The node learned that the peer never took over (engine/node.h): such a copy is up to
  // date after all. `why` is logged.
  void ConfirmFencedCopyCurrent(const std::string& why, Actions& out);

  // Inputs routed by Node.
  void OnLocalMutation(absl::Time now, uint64_t op_id, Mutation mutation, Actions& out);
  void OnApplied(absl::Time now, uint64_t apply_id, const absl::Status& status, Actions& out);
  void OnZoneRead(absl::Time now, const ZoneRead& read, Actions& out);
  void OnTreeListed(absl::Time now, const TreeListed& listed, Actions& out);
  void OnDivergentPreserved(absl::Time now, const DivergentPreserved& preserved, Actions& out);
  void OnMessage(absl::Time now, const ReplMessage& message, Actions& out);
  void OnTick(absl::Time now, Actions& out);
  absl::Time NextDeadline() const;

  // This copy's state for the module state machine (a primary's copy is the reference).
  DataState data_state() const;
  uint8_t sync_percent() const;
  ResyncStatus resync_status(absl::Time now) const;
  // The peer receives the live stream.
  bool attached() const { return link_ == Link::kAttached && role_ == ReplRole::kPrimary; }
  // Nothing of ours is in flight to the peer or waiting for the window.
  bool drained() const { return inflight_.empty() && pending_.empty(); }
  // The primary may give its role up now (an application stop, a planned handover): drained,
  // and the attached peer's copy durable up to the last write. Otherwise it asks the peer for
  // that flush once (a whole-tree fsync on the stream) and says no until it is acknowledged:
  // zones the peer had applied but not flushed would be resent whole by the in-sync session
  // that follows the step-down. A flush that fails there does not hold the step-down (that
  // session resends those zones instead). As secondary: drained().
  bool ReadyToStepDown(absl::Time now, Actions& out);
  // Connected, and the handshake that decides this session's verdict is still under way.
  bool handshake_pending() const { return connected_ && link_ == Link::kHello; }
  // Why this copy fell behind the stream (the last failed apply, e.g. a full disk) while it
  // is not up to date; empty otherwise.
  std::string stream_failure() const {
    return data_state_ == DataState::kUpToDate ? std::string() : last_stream_failure_;
  }
  // Why this copy's divergent branch could not be kept aside (the adapter's error), while no
  // keep-aside has succeeded since: no resync overwrites it until one does; empty otherwise.
  const std::string& keep_aside_failure() const { return keep_aside_failure_; }
  // A resync into this copy runs: the peer's copy is the reference.
  bool resync_target() const { return target_active_; }
  // Why the last connection was refused (split brain under a manual policy, unrelated data).
  const std::string& refused_reason() const { return refused_reason_; }
  // The last handshake decided that the peer's copy survives (a split brain, or writes the
  // peer acknowledged alone) while this node serves: Node hands the module over once the
  // peer can take it; the pair decides again when this node is secondary.
  bool peer_copy_survives() const { return peer_copy_survives_; }
  const ReplicaDurableState& durable() const { return durable_; }
  ReplRole role() const { return role_; }
  uint64_t lag_bytes() const { return inflight_bytes_; }

 private:
  enum class Link : uint8_t { kDown, kHello, kAttached, kRefused };

  struct Pending {
    uint64_t op_id = 0;
    Mutation mutation;
  };
  // What an ApplyMutation we emitted was for.
  struct Applying {
    enum class Kind : uint8_t {
      kLocal,        // primary: a stream mutation applied here
      kTracked,      // primary: a mutation made without the peer
      kStream,       // secondary: a stream mutation
      kFlush,        // secondary: periodic syncfs
      kBlock,        // target: a resync block
      kFinalFlush,   // target: syncfs before taking the source's generation
      kLocalFlush,   // primary: periodic syncfs, so the activity log may cool
      kSourceFlush,  // source: syncfs before declaring the resync done
      kCleanFlush,   // source: syncfs before forgetting zones durable on the target
    } kind;
    uint64_t key = 0;      // lsn, op id, block id, or flushed-up-to lsn
    uint64_t session = 0;  // kStream, kFlush, kSourceFlush, kFinalFlush: its session
    // kStream, kLocal, kTracked: what it changed, to have it again if it fails.
    MutationKind mutation = MutationKind::kWrite;
    std::string path = {}, path2 = {};
    uint32_t rename_flags = 0;
    uint64_t offset = 0, length = 0;
    // Applied with a flush: kLocal, kTracked: an fsync or a sync write; kStream: those, or
    // every write in ack mode durable.
    bool durable = false;
    // kTracked: the primary term it was made in (Replica::primary_terms_ then).
    uint64_t primary_term = 0;
  };
  struct InFlight {
    uint64_t lsn = 0;
    uint64_t op_id = 0;  // 0: internal (journal replay)
    Mutation mutation;
    uint64_t bytes = 0;
    bool alone = false;  // sent before the peer was dropped: its ack will never come
    bool fsync = false;
    CompletionKey order;     // what it must complete after (completion_order.h)
    bool peer_done = false;  // acknowledged past the peer's done_lsn (ReplAck::done_after)
    bool completed = false;  // answered; stays until the ones before it complete
    bool local_done = false;
    absl::Status local_status;
    // Refusals (replica_refusals.cc): the local apply refused it (what it touched, to set
    // the peer back if the peer applied it), and the peer said it refused it too.
    std::optional<Applying> refused_here;
    bool peer_refused = false;
    // The dirty map was not empty when it was sent: a namespace change moved or dropped
    // tracked zones there as if it would succeed.
    bool plan_open = false;
  };
  struct BlockApply {
    size_t left = 0;      // applies outstanding
    bool failed = false;  // one of them failed
    // A run of holes: its zones a live write reached since the read, asked for again once
    // the rest is applied and acknowledged.
    std::string path = {};
    std::vector<uint64_t> ask_again = {};
  };
  // A resync source's block (or ResyncSame) until acknowledged.
  struct SentBlock {
    ZoneRef zone;
    uint64_t bytes = 0;  // what it carries (ResyncCostOf), counted in resync_inflight_bytes_
    uint64_t zones = 1;  // a run of holes: the zones from `zone` it covers
  };
  // --- The session state machine (replica.cc)
  // Sends our Hello (answering the peer's Hello `answers`, or 0: unsolicited) and decides
  // if the peer's is known.
  // `now` matters only when answering (the decision starts the session's clocks).
  void SendHello(Actions& out, uint64_t answers = 0, absl::Time now = absl::InfinitePast());
  void Decide(absl::Time now, Actions& out);
  void RefreshHelloIfStale(Actions& out);
  // This node's machine restarted (it lost what it had not synced) and it has not attached
  // since.
  bool Crashed() const;
  // A stream session is decided. Acknowledgements (stream and block) go out only then:
  // between a drop (or a new Hello) and the next decision, the peer may already count lsns
  // and block ids of a new session that reuse these numbers (a restarted primary starts
  // again from 1).
  bool SessionDecided() const { return link_ == Link::kAttached; }
  // The copy may lack data (a resync into it is mid-way, or a stream apply failed). A copy
  // inconsistent only because a flush failed since this daemon started still holds every
  // write it acknowledged as applied: as the peer sees it in a Hello, it is not partial.
  bool ContentPartial() const { return durable_.inconsistent && !durable_.unflushed_only; }
  static Applying Touched(Applying::Kind kind, uint64_t key, const Mutation& m);
  void Persist(std::vector<ReplicaRecord> records, Actions& out);
  void Log(Actions& out, std::string text);
  uint64_t NextId() { return next_id_++; }

  // --- The primary's stream (replica_primary_stream.cc)
  void Submit(absl::Time now, uint64_t op_id, Mutation mutation, bool apply_locally, Actions& out);
  void Track(uint64_t op_id, Mutation mutation, Actions& out);
  // Starts a new current generation (the peer is behind from now on), unless the current is
  // one this node drew for writes made alone and the peer cannot hold yet (MovedOnAlone).
  void MoveGenerationOn(std::vector<ReplicaRecord>& records);
  bool MovedOnAlone() const;
  // The peer may hold our current from now on (it said so in its Hello, or we end a resync).
  void ShareCurrent(std::vector<ReplicaRecord>& records);
  // Keeps dirty and hot zones and hot names on the right names. `stream_lsn` is the lsn the
  // change is sent with; 0 for a change made alone, which the journal records.
  void TrackNamespace(const Mutation& m, uint64_t stream_lsn, std::vector<ReplicaRecord>& records);
  // Completes (answers the application) every mutation in flight that is done here and
  // acknowledged by the peer (or may complete without it), as soon as no earlier one it
  // orders after is still open (completion_order.h), and drops the completed prefix.
  void CompleteReady(Actions& out);
  // The peer acknowledged these lsns past its done_lsn (ReplAck::done_after).
  void OnPeerDone(const std::vector<LsnRange>& done_after);
  // Two kinds of acknowledgement, and each use takes one on purpose:
  //  - the watermarks, peer_done_lsn_ and peer_durable_lsn_: every lsn up to them. What must
  //    hold for everything before a point uses these only: cooling the activity log, the
  //    zones and namespace changes a drop marks dirty or journals, the end of a journal replay.
  //  - PeerHas: this mutation, by the done watermark or by its own ack past it
  //    (ReplAck::done_after, InFlight::peer_done). Completing a call, settling a refusal, and
  //    what a drop or a new session leaves alone use it.
  // PeerAckedUpTo: the highest lsn the peer acknowledged either way; only where a pass over
  // inflight_ looking for PeerHas may stop, never a watermark.
  uint64_t PeerAckedUpTo() const;
  bool PeerHas(const InFlight& f) const;
  void DrainPending(absl::Time now, Actions& out);
  void DropPeer(absl::Time now, const std::string& why, Actions& out);
  uint64_t LocalAppliedLsn() const;
  void OnLocalApplied(absl::Time now, const Applying& a, const absl::Status& status, Actions& out);
  void OnTrackedApplied(const Applying& a, const absl::Status& status, Actions& out);
  void OnLocalFlushed(uint64_t apply_id, const Applying& a, const absl::Status& status,
                      Actions& out);
  // The activity log's cooling pass (due at next_cooling_at_): idle zones durable on both
  // nodes, and names durable on both, cool in one PersistReplica; the next pass is due one
  // cooling delay later while anything of known age is hot.
  void CoolIdleZones(absl::Time now, Actions& out);

  // --- The secondary's stream (replica_secondary_stream.cc)
  void ApplyStream(absl::Time now, const ReplWrite& write, Actions& out);
  // `flushed_all_before`: lsn was a whole-tree fsync, so everything before it is durable too.
  void MarkStreamDone(uint64_t lsn, Actions& out, bool flushed_all_before = false);
  void SendAck(Actions& out);
  // A stream mutation failed here (the primary's may not have): this copy is inconsistent
  // until what it changed comes again by resync.
  void OnStreamApplyFailed(const Applying& applying, const absl::Status& status, Actions& out);
  void OnStreamApplied(absl::Time now, const Applying& a, const absl::Status& status, Actions& out);
  void OnStreamFlushed(absl::Time now, uint64_t apply_id, const Applying& a,
                       const absl::Status& status, Actions& out);

  // --- The resync source (replica_resync_source.cc)
  void AbandonSourceSession();
  void StartSource(absl::Time now, Actions& out);
  void OnTargetZones(absl::Time now, const ReplTargetZones& zones, Actions& out);
  // Source: sends the zones our own crash left hot (not in the plan) for the target to
  // compare (its digests come back as requests), and counts the list ends to wait for.
  void PlanComparisons(absl::btree_map<std::string, std::vector<uint64_t>> zones, Actions& out);
  void IssueListTree(Actions& out);
  // A rename applied here while a ListTree is in flight (renames_since_listing_).
  void NoteRenameForListing(const Mutation& rename);
  // Where a name the listing in flight answered is now, after the renames applied since.
  std::string NameNowOfListed(std::string path) const;
  // A block for `zone` as read at `lsn`: the path's kind and attributes, the progress.
  ResyncBlock BlockOf(const ZoneRef& zone, uint64_t lsn, const ZoneRead& read);
  void ExpandWholePath(const std::string& path, const ZoneRead& read, Actions& out);
  void MaybeFinishSource(Actions& out);
  void OnSourceFlushed(absl::Time now, const Applying& a, const absl::Status& status, Actions& out);
  // Source: the target confirmed it holds our data durably: the dirty map closes.
  void CloseSourceSession(Actions& out);
  // A secondary source's journal replay got no acknowledgement for the replication timeout.
  bool ReplayStalled(absl::Time now) const;

  // --- Names under a directory that goes whole (replica_resync_names_under.cc)
  // A rename or removal changed `name` on a copy: the names under it may differ too.
  // Lists this copy's tree (ListTree; one listing serves every name waiting when it is
  // issued) and hands the names under `name` to OnNamesUnderListed. Not in a full resync,
  // whose listing sends every name whole anyway.
  void ListNamesUnder(const std::string& name, Actions& out);
  // A listing for names under a directory is waiting, in flight or due again.
  bool NamesUnderPending() const;
  // Source: every name listed under one the listing was for goes whole. Target: each is
  // asked for (zone 0: the source, which sends its own names under the directory whole,
  // answers a name it lacks as absent).
  void OnNamesUnderListed(absl::Time now, const TreeListed& listed, Actions& out);
  // Source: a zone-0 read of `path` shows a directory whose names under it go whole
  // (names_under_): they are listed, and true says its block must say so (names_under).
  bool ListNamesUnderIfAsked(const std::string& path, const ZoneRead& read, Actions& out);
  // Source: `path` goes whole (every zone, its attributes, no digest comparison), even if
  // its first zone was read or sent already (a probe read learns its size; a name whose
  // names under it go too is read again, for its block to say so).
  void SendWhole(const std::string& path, std::vector<ReplicaRecord>& records, Actions& out);
  // Target: names a rename or removal in `m` changed here (or that the source's replay of it
  // met): asked for with the names under them (`ask`); the names a rename may have moved
  // here, under its new names, are listed here once the source's block says it holds a
  // directory there (`list_here`).
  static void NamesUnderOf(const Mutation& m, absl::btree_set<std::string>& ask,
                           absl::btree_set<std::string>& list_here);

  // --- A resync source's window: in flight, acknowledged, forgotten (replica_resync_window.cc)
  // Whether the source may issue one more zone read (resync_window_bytes, resync_reads).
  bool ResyncWindowOpen() const;
  void IssueReads(absl::Time now, Actions& out);
  // Read `read_id` is answered (or its zone taken into a run of holes unread): its zone leaves
  // the window, and the bandwidth cap gets back what its block does not carry (`cost`).
  void EndRead(uint64_t read_id, uint64_t cost);
  // Records a block (or ResyncSame) sent for `zone` (and the `zones` - 1 after it: a run of
  // holes), carrying `bytes`, until acknowledged.
  void SendBlock(uint64_t block_id, const ZoneRef& zone, uint64_t bytes, uint64_t zones = 1);
  void OnBlockAck(absl::Time now, const ResyncBlockAck& ack, Actions& out);
  // `zone` was read or sent: it is read and sent again.
  void ForgetSent(const ZoneRef& zone);
  // The blocks in flight that `which` picks are answered for nothing (their acknowledgement
  // finds no block): their bytes leave the window and their zones (a run's: all) are read
  // again.
  void DropBlocksInFlight(absl::FunctionRef<bool(uint64_t block_id, const SentBlock&)> which);
  // The acknowledged zones that `which` picks (by block id and zone) are sent no more: they
  // leave the progress (counted again once a new block is acknowledged, so each zone counts
  // once) and are read again.
  void ForgetAcknowledged(absl::FunctionRef<bool(uint64_t block_id, const ZoneRef&)> which);
  void IssueCleanFlush(Actions& out);
  void OnCleanFlushed(absl::Time now, const Applying& a, const absl::Status& status, Actions& out);

  // --- A resync source's runs of holes (replica_resync_holes.cc)
  // `block`, of `zone` read as a hole, covers the zones after it in the same hole that are
  // planned and not yet sent (hole_zones), at most a bound; they are taken as read (their
  // reads in flight forgotten), and each has a block id of its own, the block's the last.
  void TakeHoleRun(const ZoneRef& zone, const ZoneRead& read, ResyncBlock& block);
  uint64_t HoleRunZones(const ZoneRef& zone, const ZoneRead& read);

  // --- A resync source's linked and renamed names (replica_resync_links.cc)
  // A full resync's read of a file with several names: true if it was handled here (sent as
  // a link to the name sent first, or waiting for that name to be applied).
  bool SendAsLinkOrWait(absl::Time now, const ZoneRef& zone, uint64_t lsn, const ZoneRead& read,
                        Actions& out);
  // A live namespace change during a full resync: the names it renames are followed; if it
  // removes or replaces the first name, the names linked to it or waiting go again.
  void FollowLinkedNames(const Mutation& m, std::vector<ReplicaRecord>& records);
  // A live namespace change during a resync: zones already sent under the names it changes
  // are read and sent again (their content moved or went).
  void ResendChangedNames(const Mutation& m);

  // --- The resync target (replica_resync_target.cc)
  void StartTarget(bool discard_divergent, bool behind, Actions& out);
  // Target: asks the source for zones (or, with none, the whole path).
  // With `digests` (one per zone), the source compares before it sends (ResyncSame).
  // With `names_under` (a whole path), the names under it go whole too (ReplTargetZones).
  void RequestFromSource(std::string path, std::vector<uint64_t> zones, bool last, Actions& out,
                         std::vector<std::string> digests = {}, bool names_under = false);
  // Whether a live mutation since `read_lsn` (the source's read) changed the zone, the name, a
  // directory above it, or any name (a rename), or with `whole_file` any zone of the file:
  // what was read is stale.
  bool LiveChangedSince(const std::string& path, uint64_t zone, uint64_t read_lsn,
                        bool whole_file) const;
  // Whether a live write to the file since `read_lsn` stamped a newer mtime than the read's.
  bool LiveWriteToFileSince(const std::string& path, uint64_t read_lsn) const;
  // Issues a block's (or a ResyncSame's) steps for `zones` zones from `zone` (more than one:
  // a run of holes); the block is acknowledged once all applied.
  void IssueBlockSteps(uint64_t block_id, const ZoneRef& zone, std::vector<Mutation> steps,
                       Actions& out, uint64_t zones = 1);
  // Target: the stream renamed (or exchanged) names here. What this session asked for under
  // the old names now sits under the new ones, and the source, which renamed before sending,
  // reads the old names no more: asks again under the new names.
  void FollowRename(const Mutation& rename, Actions& out);
  void ApplyBlock(const ResyncBlock& block, Actions& out);
  void OnBlockApplied(absl::Time now, const Applying& a, const absl::Status& status, Actions& out);
  void OnResyncDone(const ResyncDone& done, Actions& out);
  void MaybeFinishTarget(Actions& out);
  void FinishTarget(Actions& out);
  void OnFinalFlushed(absl::Time now, uint64_t apply_id, const Applying& a,
                      const absl::Status& status, Actions& out);

  // --- A resync target's digest comparisons (replica_resync_digests.cc)
  // Target: reads the digest of zones this copy may hold as the source does; they are asked
  // for with their digests once all are read, then the list ends (`last`).
  void ReadDigests(const absl::btree_map<std::string, std::vector<uint64_t>>& zones, Actions& out);
  // Target: a digest read finished (false: the read is not one of ours).
  bool OnDigestRead(const ZoneRead& read, Actions& out);
  // Target: the source's zones to compare (PlanComparisons): read for their digests and
  // asked for with them, then the list's end (answering the source's own `last`).
  void OnSourceHotZones(const ReplTargetZones& zones, Actions& out);
  void SendDigestRequests(Actions& out);
  void ApplySame(const ResyncSame& same, Actions& out);

  // --- The keep-aside's answers (replica_keep_aside.cc)
  // A PreserveDivergent failed (C5): the session that would overwrite the branch ends, the
  // peer is told (keep_aside_failed in our Hellos) and a new session retries later.
  void OnKeepAsideFailed(absl::Time now, const absl::Status& status, Actions& out);
  // An apply the adapter did not carry out (IsNotCarriedOut): it changed nothing and is no
  // disk fault; what it was for is undone or dropped with the session it belonged to.
  void OnNotCarriedOut(absl::Time now, const Applying& a, Actions& out);

  // --- Refusals (replica_refusals.cc): an apply that failed having changed nothing
  // The primary's apply of a stream write was refused (IsRefusal).
  void OnLocalRefused(InFlight& entry, const Applying& applying, Actions& out);
  // The peer's acknowledgement passed writes refused here: each one the peer refused too
  // left the copies equal; one it applied is set back on it.
  void SettleRefusals(Actions& out);
  // `entry`, if refused here, as the peer's outcome of it says (or, completing before the
  // peer's acknowledgement while the stream is detached, as if the peer applied it).
  void SettleRefusal(InFlight& entry, Actions& out);
  // A stream write the secondary refused; true if it is handled here (held for the
  // primary's outcome, refused there too, or its session over before it was acknowledged).
  bool OnStreamRefused(const Applying& applying, const absl::Status& status, Actions& out);
  void OnApplyOutcome(const ReplApplyOutcome& outcome, Actions& out);
  // The primary sends its outcome of `lsn` (refused or applied) to the attached peer.
  void SendOutcome(uint64_t lsn, bool refused, Actions& out);
  // A new session (or none): refusals of the last one are void.
  void ForgetRefusals();
  // A rename sent (primary) or received (secondary) with `lsn`: a mutation before it whose
  // failure here is known only later (its refusal settled, its apply answered after the
  // rename was taken) is set back where its names are now (NamesNow).
  void NoteRenameAfterOpen(uint64_t lsn, const Mutation& rename);
  // `a` (a kLocal or kStream apply, keyed by its lsn) with its names carried through the
  // renames noted past its lsn; a rename with flags may still fail on a disk, so `a` is
  // also kept under the names it had (each way of its ending is covered).
  std::vector<Applying> NamesNow(const Applying& a) const;

  // --- Disk faults (replica_disk_faults.cc): a full disk, EIO on a flush
  // Remembers what an apply changed until a flush of the tree covers it.
  void NoteUnsynced(const Mutation& m, uint64_t apply_id);
  // What an fsync returns on a copy whose flush failed before.
  static absl::Status DiskFailedError();
  void ForgetSynced(uint64_t flush_id);
  // Makes what was applied since the last good flush hot, and the disk failed (persisted).
  void MarkUnsyncedLost(std::vector<ReplicaRecord>& records);
  // A flush of this copy failed while it is the secondary or a resync target.
  void OnDurabilityFailedHere(absl::Time now, const absl::Status& status, Actions& out);
  // A new session (a Hello) after flush_interval.
  void RestartSessionLater(absl::Time now);
  // A flush failed while this copy is the writer or a resync source.
  void OnLocalDurabilityFailed(const absl::Status& status, Actions& out);
  // A mutation failed on the writer's copy (the peer may have applied it: it is set back).
  void OnLocalApplyFailed(const Applying& applying, const absl::Status& status, Actions& out);
  // A sync write failed in its flush (EIO): its pages are lost as after a failed fsync.
  static bool SyncWriteLostPages(const Applying& applying, const absl::Status& status) {
    return applying.mutation == MutationKind::kWrite && applying.durable &&
           status.code() == absl::StatusCode::kDataLoss;
  }

  ModuleIndex module_;
  std::string name_;
  ReplicaOptions opt_;
  ReplicaDurableState durable_;
  Rng& rng_;
  ActivityLog activity_log_;
  ReplRole role_ = ReplRole::kSecondary;
  bool connected_ = false;
  bool peer_reachable_ = true;  // see SetPeerReachable
  static constexpr uint64_t kStreamFailuresPerLogLine = 1000;
  uint64_t stream_failures_ = 0;     // failed stream applies this session
  std::string last_stream_failure_;  // see stream_failure()
  uint64_t names_refused_ = 0;       // resync target: stream changes refused for the names
  uint64_t late_refusals_ = 0;       // refusals completing after their session (refusals.cc)
  bool fenced_ = false;
  bool fenced_copy_ = false;  // see fenced_copy()
  // PreserveDivergent actions not answered yet: id -> the discarded branch's generation
  // (recorded as kept aside once done; 0 for a full resync's listing).
  absl::flat_hash_map<uint64_t, uint64_t> preserving_;
  // The last failed keep-aside's error, until one succeeds (keep_aside_failure()); while a
  // retry waits (keep_aside_retry_at_), our Hellos say so and the handshake refuses. The
  // delay doubles from kKeepAsideRetryFirst to kKeepAsideRetryMax; a reconnect retries at
  // once. In memory: a restart retries at its first session.
  static constexpr absl::Duration kKeepAsideRetryFirst = absl::Seconds(1);
  static constexpr absl::Duration kKeepAsideRetryMax = absl::Seconds(32);
  std::string keep_aside_failure_;
  absl::Time keep_aside_retry_at_ = absl::InfiniteFuture();
  absl::Duration keep_aside_retry_delay_ = kKeepAsideRetryFirst;
  uint64_t keep_aside_marker_ = 0;  // the empty PreserveDivergent issued after the last failure
  bool peer_outdated_ = false;      // writes made alone may complete
  std::vector<std::pair<uint64_t, absl::Status>> held_completions_;
  Link link_ = Link::kDown;
  std::optional<ReplHello> peer_hello_;
  uint32_t configured_zone_size_ = 0;  // opt_.zone_size is the one in effect (see OnStart)
  CopyFacts my_facts_;                 // what our last Hello said: the handshake decides from it
  bool discard_my_data_ = false;       // the admin's choice, until the next attach
  uint64_t hello_epoch_ = 0;
  uint64_t awaiting_answer_to_ = 0;                     // our unsolicited Hello not yet answered
  absl::Time hello_wait_since_ = absl::InfinitePast();  // writes wait for the handshake
  std::string refused_reason_;
  bool peer_copy_survives_ = false;  // see peer_copy_survives()
  bool own_copy_survives_ = false;   // the mirror: this copy waits for the peer to hand over
  // This session's resync is a full one (a blank copy, or unrelated data the admin chose).
  bool full_resync_ = false;
  uint64_t list_id_ = 0;  // a ListTree in flight for it (or for names under directories)
  // The renames applied here since that ListTree was issued: it ran before them (a barrier),
  // so the names it answers are carried through them (NameNowOfListed).
  std::vector<Mutation> renames_since_listing_;
  absl::Time list_retry_at_ = absl::InfiniteFuture();
  // Names whose names under them this copy lists (ListNamesUnder): waiting for the next
  // listing, and the ones the listing in flight (or due again) is for.
  absl::btree_set<std::string> names_under_waiting_, names_under_listing_;
  DataState data_state_ = DataState::kUnknown;
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, Applying> applying_;
  // Counts the times this node became primary: a write made alone whose apply returns in a
  // later term (or as secondary) was never acknowledged and must not be now.
  uint64_t primary_terms_ = 0;

  // Primary: the live stream.
  uint64_t next_lsn_ = 1;
  std::deque<InFlight> inflight_;  // consecutive lsns; the completed prefix is dropped
  CompletionOrder open_order_;     // inflight_'s entries not completed
  std::deque<Pending> pending_;
  uint64_t inflight_bytes_ = 0;
  // The peer's watermarks this session (ReplAck::done_lsn, durable_lsn): see PeerHas.
  uint64_t peer_done_lsn_ = 0;
  uint64_t peer_done_past_ = 0;  // the highest lsn acknowledged past it: PeerAckedUpTo only
  uint64_t peer_durable_lsn_ = 0;
  uint64_t step_down_flush_lsn_ = 0;  // the whole-tree fsync ReadyToStepDown sent
  uint64_t local_durable_lsn_ = 0;    // our own stream mutations flushed here
  bool local_flush_in_flight_ = false;
  absl::Time next_local_flush_at_ = absl::InfiniteFuture();
  absl::Time next_cooling_at_ = absl::InfiniteFuture();  // see CoolIdleZones
  absl::Time last_ack_progress_ = absl::InfinitePast();
  // Namespace changes sent and not yet acknowledged (journaled if the peer is dropped).
  absl::btree_map<uint64_t, Mutation> unacked_namespace_;

  // Secondary: applying the stream.
  // Each decided connection is a stream session with its own LSN range (a restarted primary
  // starts again from 1): acknowledgements never mix sessions.
  uint64_t session_ = 0;
  uint64_t expect_lsn_ = 0;                      // the next lsn; set by the decision
  absl::btree_map<uint64_t, bool> stream_done_;  // lsn -> reached the ack level
  uint64_t done_lsn_ = 0;
  std::vector<uint64_t> done_after_unsent_;  // done past done_lsn_, not yet acknowledged
  uint64_t durable_lsn_ = 0;
  uint64_t acked_done_ = 0, acked_durable_ = 0;
  absl::Time next_flush_at_ = absl::InfiniteFuture();
  bool flush_in_flight_ = false;
  uint64_t flush_failed_session_ = 0;  // a flush failed here in this session: no durable acks
  // What was applied here since the last flush of the tree that succeeded, by apply id
  // (applies run in order, so a flush covers every id below its own). A failed flush makes
  // them hot: Linux forgets the pages it could not write, and the peer that sent them may
  // not know which ones (it may have crashed since). In memory: after a daemon restart only
  // what the peer's activity log names is known. Ordered: a failed flush turns them into
  // activity-log records in this order, and hash order differs between runs.
  absl::btree_map<ZoneRef, uint64_t> unsynced_zones_;
  absl::btree_map<std::string, uint64_t> unsynced_names_;
  // Stream writes refused here and held unacknowledged until the primary's outcome says
  // whether it refused them too, by lsn (this session), with their status.
  absl::btree_map<uint64_t, std::pair<Applying, absl::Status>> refusals_awaiting_;
  // The primary's refusals that arrived while our own apply of the write was in flight.
  absl::btree_set<uint64_t> primary_refused_;
  // The renames past the oldest mutation whose failure may still be learnt, by lsn
  // (NoteRenameAfterOpen): this session's, at most a window of them.
  absl::btree_map<uint64_t, Mutation> renames_after_open_;
  absl::Time restart_session_at_ = absl::InfiniteFuture();

  // Resync, source side.
  bool source_active_ = false;
  bool target_zones_complete_ = false;
  // The target's list ends (`last`) received this session, and how many complete it: two
  // when we sent it zones to compare (PlanComparisons), else one.
  uint64_t target_lasts_seen_ = 0, target_lasts_needed_ = 1;
  absl::flat_hash_set<ZoneRef> reading_;  // zones read or sent, not yet acknowledged
  absl::flat_hash_map<uint64_t, std::pair<ZoneRef, uint64_t>> reads_;  // read id -> zone, lsn
  absl::flat_hash_map<uint64_t, SentBlock> blocks_;                    // block id -> what went
  uint64_t resync_inflight_bytes_ = 0;            // reads (a zone each) and blocks_
  absl::flat_hash_set<std::string> whole_paths_;  // send every zone (learned at zone 0)
  // Paths sent whole in this session: their blocks carry attributes and xattrs the target may
  // lack, so none of their zones is compared by digest.
  absl::flat_hash_set<std::string> uncompared_paths_;
  // Paths that go whole with the names under them if they are directories here (the target
  // asked so, or a rename or removal may have changed them): listed once a zone-0 read shows
  // a directory.
  absl::btree_set<std::string> names_under_;
  // A zone acknowledged (counted in resync_done_, and in resync_same_done_ if `same`).
  struct AckedZone {
    ZoneRef zone;
    bool same = false;
  };
  absl::btree_map<uint64_t, AckedZone> unflushed_;  // applied on the target, not yet durable
  // Durable on the target, by block id; forgotten (MarkClean) once a flush of our own copy
  // succeeds: the block was read from our page cache, which a crash or failed flush loses.
  absl::btree_map<uint64_t, AckedZone> durable_there_;
  bool clean_flush_in_flight_ = false;
  uint64_t replay_end_lsn_ = 0;    // the last lsn of this session's journal replay
  bool journal_replayed_ = false;  // the journal went to the peer in an earlier session
  absl::flat_hash_map<uint64_t, std::string> probes_;  // read id -> whole path to size
  // A full resync's files with several names, by inode (ZoneRead::link_device, link_inode):
  // the name sent first with the data, and the other names, read and waiting (in reading_)
  // until the target acknowledged that one; each then goes as a link to it.
  struct LinkedFile {
    std::string first;
    bool first_applied = false;
    std::vector<std::string> linked;  // names sent as links to it
    std::vector<ZoneRef> waiting;
  };
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, LinkedFile> linked_files_;
  absl::flat_hash_map<uint64_t, std::pair<uint64_t, uint64_t>> first_name_blocks_;  // block id
  bool awaiting_done_confirm_ = false;
  uint64_t target_requests_seen_ = 0;  // ReplTargetZones received this session
  uint64_t resync_total_ = 0, resync_done_ = 0;
  // What this session's blocks carried: data bytes, and zones sent as holes.
  uint64_t resync_data_sent_ = 0, resync_holes_sent_ = 0;
  // The target's digest of zones it may hold as we do (ReplTargetZones::digests), until the
  // zone is read; the ResyncSame sent for equal ones (block ids), and the bytes of zones
  // acknowledged so, which resync_done_ counts too (the progress) but which were not sent.
  absl::flat_hash_map<ZoneRef, std::string> target_digests_;
  absl::flat_hash_set<uint64_t> same_blocks_;
  uint64_t resync_same_done_ = 0;
  absl::Time resync_started_ = absl::InfinitePast();
  absl::Time next_read_at_ = absl::InfinitePast();

  // Resync, target side.
  bool target_active_ = false;
  absl::flat_hash_map<ZoneRef, uint64_t> live_zone_lsn_;      // newest live write per zone
  absl::flat_hash_map<std::string, uint64_t> live_path_lsn_;  // newest namespace change
  absl::flat_hash_map<std::string, uint64_t> live_file_lsn_;  // newest write to the file
  uint64_t live_rename_lsn_ = 0;  // a rename moves names the source read under
  absl::flat_hash_map<uint64_t, BlockApply> block_applies_;  // by block id
  uint64_t applied_blocks_upto_ = 0;
  uint64_t flushed_blocks_upto_ = 0;
  uint8_t sync_percent_ = 0;
  std::optional<uint64_t> done_current_;  // ResyncDone received; flushing before adopting
  uint64_t target_requests_sent_ = 0;     // ReplTargetZones sent this session
  struct Requested {
    bool whole = false;
    bool names_under = false;
    std::vector<uint64_t> zones;
  };
  // Names whose own names under them this copy asks for once the source's block shows a
  // directory there (NamesUnderOf's `list_here`).
  absl::btree_set<std::string> list_under_here_;
  absl::btree_map<std::string, Requested> requested_;  // by path, this session
  bool final_flush_started_ = false;
  uint64_t flush_requests_sent_ = 0;  // target_requests_sent_ when the final flush started
  // Digest reads of this session's zones that may be the same here and on the source: read id
  // -> zone; the digests read so far by path (zones, digests); the list's end (`last`) waits
  // for them.
  absl::flat_hash_map<uint64_t, ZoneRef> digest_reads_;
  absl::btree_map<std::string, std::pair<std::vector<uint64_t>, std::vector<std::string>>>
      digested_;
  bool last_request_waits_ = false;
  bool compare_last_waits_ = false;  // the source's comparisons ended; our end waits too
  uint64_t digest_failures_ = 0;     // this session's digest reads that failed (logged once)
  // A full resync's target: the stream writes and blocks that arrived before its listing was
  // kept aside (OnTreeListed), applied right after it.
  bool awaiting_listing_keep_aside_ = false;
  std::deque<ReplMessage> held_until_kept_;
};

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_REPLICA_H_
