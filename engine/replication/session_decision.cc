#include "engine/replication/session_decision.h"

#include "absl/strings/str_cat.h"
#include "engine/replication/replica_state.h"

namespace duet {

CopyFacts CopyFacts::Of(const ReplHello& hello) {
  CopyFacts facts;
  facts.gens = hello.gens;
  facts.primary = hello.primary;
  facts.partial = hello.inconsistent;
  facts.crashed = hello.crashed;
  facts.disk_failed = hello.disk_failed;
  facts.dirty = hello.dirty;
  facts.alone_acked = hello.alone_acked;
  facts.discard = hello.discard;
  facts.joined = hello.joined;
  facts.zone_size = hello.zone_size;
  facts.keep_aside_failed = hello.keep_aside_failed;
  return facts;
}

const char* SessionRuleReason(SessionRule rule) {
  switch (rule) {
    case SessionRule::kKeepAsideFailed:
      return "a copy could not keep its divergent branch aside (its log says why): no resync "
             "may overwrite it until it can, which it retries";
    case SessionRule::kBothPrimary:
      return "both nodes are primary";
    case SessionRule::kZoneSizesDiffer:
      return "the two nodes track changes in zones of different sizes: give the module the "
             "same zone_size on both (a change takes effect at a restart with nothing tracked)";
    case SessionRule::kBlankCopy:
      return "a blank copy (a new node, a replaced disk, lost metadata) takes the whole tree";
    case SessionRule::kNeverCompleted:
      return "a copy partial since before the pair first met takes the whole tree";
    case SessionRule::kInSyncLeastLoss:
      return "the same data: the primary, else the copy that lost least in a crash or a failed "
             "flush, else the default primary sends what activity logs name";
    case SessionRule::kNewerSends:
      return "the newer copy sends what its dirty map names";
    case SessionRule::kServingPrimaryKeeps:
      return "the serving primary never received the other copy's last changes, none of them "
             "acknowledged: keeping the primary's copy, the other's changes are kept aside";
    case SessionRule::kRollBack:
      return "back from a crash with changes made alone that were never acknowledged: rolling "
             "back to the peer's copy, the crashed copy's changes are kept aside";
    case SessionRule::kAdminDiscardsBoth:
      return "split brain: the admin told both nodes to discard their changes";
    case SessionRule::kAdminChoseSplitBrain:
      return "split brain resolved by the admin: the copy told to discard loses its changes "
             "(kept aside)";
    case SessionRule::kOnlyOneBranchAcked:
      return "both nodes wrote alone, but only one side's writes were acknowledged: that branch "
             "survives, the other is kept aside";
    case SessionRule::kSplitBrainWaitsForAdmin:
      return "split brain: both nodes wrote alone and the policy leaves the choice to the admin "
             "(duetctl discard on the node whose changes to drop)";
    case SessionRule::kSplitBrainDefaultWins:
      return "split brain (policy discard-non-default): the default primary's copy survives, "
             "the other's changes are kept aside";
    case SessionRule::kAdminChoseUnrelated:
      return "unrelated data resolved by the admin: the copy told to discard is kept aside and "
             "replaced by a full resync";
    case SessionRule::kUnrelatedWaitsForAdmin:
      return "unrelated data on the two nodes: the admin must choose which to keep (duetctl "
             "discard on the node whose copy to drop: a full resync)";
  }
  return "?";
}

const char* SessionFitReason(SessionFit fit) {
  switch (fit) {
    case SessionFit::kAsChosen:
      return "the surviving copy sends";
    case SessionFit::kPartialResumes:
      return "a partial copy is never the source against a consistent one: the resync into it "
             "resumes";
    case SessionFit::kServerKeepsOverPartial:
      return "the serving primary keeps its copy against a partial or discarded one";
    case SessionFit::kHandOver:
      return "the peer's copy survives: this node serves until the peer can take the module "
             "over, then discards its changes (kept aside); if the admin placed the module "
             "here, duetctl discard on the peer keeps this copy instead";
    case SessionFit::kAwaitHandOver:
      return "this copy survives: waiting for the serving peer to hand the module over "
             "(duetctl discard here keeps the peer's copy instead)";
  }
  return "?";
}

std::string SessionVerdict::Name() const {
  return full ? "full resync" : SyncDecisionName(generations);
}

std::string DescribeChoice(const SessionVerdict& v) {
  const bool mine = v.self_survives;
  const std::string outcome = mine ? "keeps its data" : "discards its changes (kept aside)";
  switch (v.rule) {
    case SessionRule::kBlankCopy:
      return mine ? "the peer's copy is blank: a full resync to it"
                  : "this copy is blank: a full resync from the peer";
    case SessionRule::kNeverCompleted:
      return mine ? "the peer's copy is partial and was never complete: a full resync to it"
                  : "this copy is partial and was never complete: a full resync from the peer";
    case SessionRule::kServingPrimaryKeeps:
      return mine ? "" : absl::StrCat("split brain: ", SessionRuleReason(v.rule));
    case SessionRule::kRollBack:
      return mine ? "" : SessionRuleReason(v.rule);
    case SessionRule::kAdminChoseSplitBrain:
      return absl::StrCat("split brain resolved by the admin: this node ", outcome);
    case SessionRule::kOnlyOneBranchAcked:
      return absl::StrCat("both nodes wrote alone, but only ", mine ? "this node's" : "the peer's",
                          " writes were acknowledged; this node ", outcome);
    case SessionRule::kSplitBrainDefaultWins:
      return absl::StrCat("split brain detected; this node ", outcome,
                          " (policy discard-non-default)");
    case SessionRule::kAdminChoseUnrelated:
      return absl::StrCat("unrelated data resolved by the admin: this node ",
                          mine ? "keeps its data" : "discards its copy (kept aside)",
                          "; a full resync");
    default:
      return "";
  }
}

namespace {

// What a copy lost, for the in-sync tie-break: a crash lost what was not synced (its peer
// holds it); a failed flush (EIO) still reads it but loses it at the next restart.
int Loss(const CopyFacts& copy) { return copy.crashed ? 2 : copy.disk_failed ? 1 : 0; }

// Back from a crash, its writes made alone never acknowledged (they died waiting for the
// peer's outdate): it rolls back to the peer's copy, which holds everything acknowledged,
// including what the crash lost here unsynced. Only if the peer did not restart too (then
// it may lack what it had not synced) and neither serves.
bool RollsBack(const CopyFacts& copy, const CopyFacts& other) {
  return !copy.primary && copy.crashed && !copy.alone_acked && !other.primary && !other.partial &&
         !other.crashed;
}

// A copy that never held the module's data: not joined, never wrote.
bool Blank(const Generations& gens) {
  return gens.current == kInitialGeneration && gens.bitmap == 0;
}

SessionVerdict Refuse(SessionRule rule, SyncDecision generations) {
  SessionVerdict v;
  v.outcome = SessionOutcome::kRefuse;
  v.rule = rule;
  v.generations = generations;
  return v;
}

// Which copy holds the data that must survive, from the data alone (the first rules).
SessionVerdict ChooseSurvivor(const CopyFacts& self, const CopyFacts& peer,
                              const SessionPolicy& policy) {
  SessionVerdict v;
  v.outcome = SessionOutcome::kAttach;
  v.generations = Decide(self.gens, peer.gens);
  const auto keep = [&](SessionRule rule, bool self_source, bool discard) {
    v.rule = rule;
    v.self_source = v.self_survives = self_source;
    v.discard = discard;
    return v;
  };
  if (self.joined != peer.joined) {
    if (Blank(self.joined ? peer.gens : self.gens)) {
      v.full = true;
      return keep(SessionRule::kBlankCopy, self.joined, !self.joined);
    }
    v.generations = SyncDecision::kUnrelated;
  } else if (!self.joined && self.partial != peer.partial) {
    // Neither joined, one mid-way through a full resync whose source lost its disk since:
    // not the identical copies of a first start. The consistent one goes whole.
    v.full = true;
    return keep(SessionRule::kNeverCompleted, peer.partial, !peer.partial);
  }
  switch (v.generations) {
    case SyncDecision::kInSync: {
      bool self_source = self.primary;
      if (!self.primary && !peer.primary) {
        self_source =
            Loss(self) != Loss(peer) ? Loss(self) < Loss(peer) : policy.self_default_primary;
      }
      return keep(SessionRule::kInSyncLeastLoss, self_source, false);
    }
    case SyncDecision::kSelfIsSource:
      // The peer took over while this node was away, and this node wrote after it last
      // heard from it, none of it acknowledged (it waited for the peer's outdate).
      if (peer.primary && !self.alone_acked) {
        return keep(SessionRule::kServingPrimaryKeeps, false, true);
      }
      if (RollsBack(self, peer)) return keep(SessionRule::kRollBack, false, true);
      return keep(SessionRule::kNewerSends, true, false);
    case SyncDecision::kPeerIsSource:
      if (self.primary && !peer.alone_acked) {
        return keep(SessionRule::kServingPrimaryKeeps, true, false);
      }
      if (RollsBack(peer, self)) return keep(SessionRule::kRollBack, true, false);
      return keep(SessionRule::kNewerSends, false, false);
    case SyncDecision::kSplitBrain:
      if (self.discard && peer.discard) {
        return Refuse(SessionRule::kAdminDiscardsBoth, v.generations);
      }
      if (self.discard || peer.discard) {
        return keep(SessionRule::kAdminChoseSplitBrain, !self.discard, self.discard);
      }
      // The other side's writes waited for an outdate that never came: no split brain.
      if (self.alone_acked != peer.alone_acked) {
        return keep(SessionRule::kOnlyOneBranchAcked, self.alone_acked, !self.alone_acked);
      }
      if (policy.split_brain != SplitBrainPolicy::kDiscardNonDefault) {
        return Refuse(SessionRule::kSplitBrainWaitsForAdmin, v.generations);
      }
      // Whoever serves now (DESIGN.md §5).
      return keep(SessionRule::kSplitBrainDefaultWins, policy.self_default_primary,
                  !policy.self_default_primary);
    case SyncDecision::kUnrelated:
      if (self.discard != peer.discard) {
        v.full = true;
        return keep(SessionRule::kAdminChoseUnrelated, !self.discard, self.discard);
      }
      return Refuse(SessionRule::kUnrelatedWaitsForAdmin, v.generations);
  }
  return Refuse(SessionRule::kUnrelatedWaitsForAdmin, SyncDecision::kUnrelated);
}

}  // namespace

SessionVerdict DecideSession(const CopyFacts& self, const CopyFacts& peer,
                             const SessionPolicy& policy) {
  // Nothing else is decided while a copy holds a branch it could not keep aside: whichever
  // copy the rules chose, its retry (a new Hello) decides again.
  if (self.keep_aside_failed || peer.keep_aside_failed) {
    return Refuse(SessionRule::kKeepAsideFailed, Decide(self.gens, peer.gens));
  }
  if (self.primary && peer.primary) {
    return Refuse(SessionRule::kBothPrimary, Decide(self.gens, peer.gens));
  }
  if (self.zone_size != peer.zone_size) {
    return Refuse(SessionRule::kZoneSizesDiffer, Decide(self.gens, peer.gens));
  }
  SessionVerdict v = ChooseSurvivor(self, peer, policy);
  if (v.outcome != SessionOutcome::kAttach) return v;
  // Whatever the generations say, a copy that a resync was overwriting is never the source
  // against a consistent one: that resync resumes, and the changes it was discarding were
  // kept aside when it started. (A primary's copy is never partial.)
  if (!v.full && self.partial != peer.partial && !self.primary && !peer.primary) {
    v.fit = SessionFit::kPartialResumes;
    v.self_source = peer.partial;
    v.discard = false;
  }
  // A serving primary is never a resync target: its application would see the peer's
  // blocks land under it. A partial copy, or one the admin discards, never survives against
  // it; otherwise the primary hands the module over to the copy that survives.
  if (self.primary && !v.self_source) {
    if (peer.partial || peer.discard) {
      v.fit = SessionFit::kServerKeepsOverPartial;
      v.self_source = true;
    } else {
      v.outcome = SessionOutcome::kHandOver;
      v.fit = SessionFit::kHandOver;
      return v;
    }
  }
  if (peer.primary && v.self_source) {
    if (self.partial || self.discard) {
      v.fit = SessionFit::kServerKeepsOverPartial;
      v.self_source = false;
      v.discard = self.discard;  // the admin chose the serving copy
    } else {
      v.outcome = SessionOutcome::kAwaitHandOver;
      v.fit = SessionFit::kAwaitHandOver;
      return v;
    }
  }
  if (v.self_source) {
    v.discard = false;
  } else {
    // Behind if the source's generation is newer, or it holds a plan (a drop left zones
    // dirty there).
    v.behind = v.full || v.generations != SyncDecision::kInSync || peer.dirty;
  }
  return v;
}

}  // namespace duet
