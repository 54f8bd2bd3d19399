// The replication handshake as a pure function (DESIGN.md §5).
//
// When the replication connection comes up, each side sends a Hello: the facts about its copy
// (CopyFacts). Each side then decides from the same two Hellos, its own and the peer's, never
// from state that changed after its Hello was sent; so the two verdicts mirror each other:
//  - both attach, exactly one of them the source, with the same full/incremental kind;
//  - or both refuse (the admin must choose, or the Hellos are impossible);
//  - or one serves while the other's copy survives: the server hands the module over
//    (kHandOver) and the survivor waits for it (kAwaitHandOver); they decide again then.
// A serving primary is never a resync target (its application would see blocks land under
// it). A copy's changes are overwritten only with `discard`, which keeps them aside first.
//
// The rules, in the order they apply, are the table `SessionRule` (each with its reason in
// SessionRuleReason); tests/engine/replication/session_decision_test.cc checks the mirror, the
// safety and the stability of every verdict over every pair of facts within bounded histories.
//
// Against DRBD's UUID comparison (drbd_uuid_compare): `current`, `bitmap` and `history` are
// its current, bitmap and history UUIDs, and generations.h's Decide is its table (equal
// currents; one side's bitmap is the other's current; a missed resync end found through the
// history; equal bitmaps: split brain; nothing in common: unrelated data, refused). Where
// Duet differs, and why:
//  - "just created" is `!joined` with the initial generation (kBlankCopy): DRBD does a full
//    sync the same way, and refuses a side that wrote before it ever met its peer.
//  - Equal currents: DRBD makes a crashed primary the source of its activity-log extents,
//    because its writes reached its own disk before the peer's ack. Duet writes through the
//    page cache, so a crashed copy lost what it had not synced, which its peer acknowledged
//    and holds: the copy that lost least is the source (kInSyncLeastLoss).
//  - DRBD's after-split-brain policies (discard-zero-changes, discard-secondary,
//    discard-younger-primary...) become: a branch whose writes were never acknowledged
//    loses (kOnlyOneBranchAcked, kRollBack, kServingPrimaryKeeps: DRBD's zero changes, in
//    terms of what applications were told); otherwise the default primary wins
//    (kSplitBrainDefaultWins) or the admin chooses (manual, and discard-least-changes,
//    which is not implemented yet and waits for the admin too).
//  - DRBD lets a primary become a sync target only with allow-two-primaries off and the
//    admin's consent; Duet never does: the serving primary hands the module over (kHandOver).
#ifndef DUET_ENGINE_REPLICATION_SESSION_DECISION_H_
#define DUET_ENGINE_REPLICATION_SESSION_DECISION_H_

#include <cstdint>
#include <string>

#include "engine/config.h"
#include "engine/replication/generations.h"
#include "engine/replication/repl_messages.h"

namespace duet {

// What one side's Hello says about its copy.
struct CopyFacts {
  Generations gens;
  bool primary = false;      // its application writes the module now
  bool partial = false;      // its content may lack data (a resync into it is mid-way)
  bool crashed = false;      // its machine restarted since it last attached (lost the unsynced)
  bool disk_failed = false;  // a flush failed: it may lose zones at its next restart
  bool dirty = false;        // it holds a plan (dirty zones, a namespace journal)
  bool alone_acked = false;  // it acknowledged writes made without the peer
  bool discard = false;      // the admin chose this copy to lose its divergent changes
  bool joined = false;       // it held the module's data with the peer at least once
  uint32_t zone_size = 0;    // the zone size its dirty map and hot zones count in
  bool keep_aside_failed = false;  // it could not keep its divergent branch aside (C5)

  static CopyFacts Of(const ReplHello& hello);
  friend bool operator==(const CopyFacts&, const CopyFacts&) = default;
};

// The same on both nodes, except which node is the default primary.
struct SessionPolicy {
  SplitBrainPolicy split_brain = SplitBrainPolicy::kDiscardNonDefault;
  bool self_default_primary = false;
};

// Every rule, in the order the decision applies them. The first rules settle which copy
// holds the data that must survive; the last ones fit that to who serves now.
enum class SessionRule : uint8_t {
  // Which copy survives, from the data alone.
  kKeepAsideFailed,          // refuse: a copy could not keep its divergent branch aside
  kBothPrimary,              // refuse: two writers
  kZoneSizesDiffer,          // refuse: zone numbers would point at the wrong bytes
  kBlankCopy,                // a side never held the module's data: a full resync to it
  kNeverCompleted,           // neither joined, one partial (its source lost its disk): full
  kInSyncLeastLoss,          // same generation: the primary, else the copy that lost least
  kServingPrimaryKeeps,      // the newer copy's writes were never acknowledged; the other serves
  kRollBack,                 // back from a crash, its writes alone never acknowledged
  kNewerSends,               // the generations say one copy is newer
  kAdminDiscardsBoth,        // refuse: the admin told both sides to discard
  kAdminChoseSplitBrain,     // a split brain resolved by the admin's discard
  kOnlyOneBranchAcked,       // both wrote alone, only one side acknowledged its writes
  kSplitBrainWaitsForAdmin,  // refuse: a manual or discard-least-changes policy
  kSplitBrainDefaultWins,    // a split brain: the default primary's copy survives
  kAdminChoseUnrelated,      // unrelated data resolved by the admin's discard: full resync
  kUnrelatedWaitsForAdmin,   // refuse: unrelated data
};
const char* SessionRuleReason(SessionRule rule);

// Then the survivor is fitted to who serves now and to a resync under way.
enum class SessionFit : uint8_t {
  kAsChosen,                // the survivor sends
  kPartialResumes,          // a partial copy never sends to a consistent one: its resync resumes
  kServerKeepsOverPartial,  // a serving copy keeps against a partial or discarded one
  kHandOver,                // this node serves, the peer's copy survives
  kAwaitHandOver,           // this copy survives, the peer serves
};
const char* SessionFitReason(SessionFit fit);

enum class SessionOutcome : uint8_t {
  kAttach,         // a session: this side is the source or the target
  kRefuse,         // no session until something changes (the admin, a role)
  kHandOver,       // this side serves, the peer's copy survives: hand the module over
  kAwaitHandOver,  // this copy survives, the peer serves: wait for it to hand over
};

struct SessionVerdict {
  SessionOutcome outcome = SessionOutcome::kRefuse;
  SessionRule rule = SessionRule::kBothPrimary;  // the rule that chose the surviving copy
  bool self_survives = false;                    // what that rule chose (before the fit)
  SessionFit fit = SessionFit::kAsChosen;
  SyncDecision generations = SyncDecision::kInSync;  // what the generations alone say
  bool full = false;         // kAttach: the source sends every name it holds, whole
  bool self_source = false;  // kAttach
  bool discard = false;      // kAttach, target: its divergent changes are kept aside first
  bool behind = false;       // kAttach, target: the source holds something it lacks

  // "full resync", or the generations' decision ("in sync", "split brain", ...).
  std::string Name() const;
  friend bool operator==(const SessionVerdict&, const SessionVerdict&) = default;
};

// What this side logs about the surviving copy's choice ("" for the ordinary rules). The
// simulator's data checker reads "split brain ... discards its changes" as an allowed loss.
std::string DescribeChoice(const SessionVerdict& verdict);

SessionVerdict DecideSession(const CopyFacts& self, const CopyFacts& peer,
                             const SessionPolicy& policy);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_SESSION_DECISION_H_
