#include "engine/admin_verbs.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace duet {
namespace {

AdminPlan Refuse(absl::Status status) {
  AdminPlan plan;
  plan.status = std::move(status);
  return plan;
}

// swap, second, prim: where the module should go, and whether it may.
AdminPlan PlanMove(const AdminFacts& f) {
  AdminPlan plan;
  const bool to_peer = f.verb == AdminVerb::kSwap ? f.owner : f.verb == AdminVerb::kSecond;
  if (to_peer) {
    if (!f.owner) {  // `second` where the peer already owns it: just run as secondary
      plan.run_here = true;
      return plan;
    }
    if (!f.peer_eligible) {
      return Refuse(absl::FailedPreconditionError(
          absl::StrCat(f.module, ": the peer is not an up-to-date secondary")));
    }
    plan.hand_to_peer = true;
    return plan;
  }
  // The module should come here.
  if (f.owner) {
    if (!f.data_allows_primary && !f.force) {
      return Refuse(absl::FailedPreconditionError(absl::StrCat(
          f.module, ": data is ", DataStateName(f.data), " here; use --force to promote")));
    }
    plan.run_here = true;
    plan.take_here = true;
    return plan;
  }
  if (f.peer_alive) {
    if (!f.self_eligible) {
      return Refuse(absl::FailedPreconditionError(
          absl::StrCat(f.module, ": this node is not an up-to-date secondary")));
    }
    plan.ask_peer = true;
    return plan;
  }
  if (f.data != DataState::kUpToDate && !f.force) {
    return Refuse(absl::FailedPreconditionError(absl::StrCat(
        f.module, ": peer lost and data is ", DataStateName(f.data), " here; use --force")));
  }
  plan.run_here = true;
  plan.claim = true;
  return plan;
}

}  // namespace

AdminPlan PlanAdmin(const AdminFacts& f) {
  AdminPlan plan;
  switch (f.verb) {
    case AdminVerb::kStart:
      plan.run_here = true;
      break;
    case AdminVerb::kStop:
      plan.stop = true;
      break;
    case AdminVerb::kDiscard:
      plan.discard = true;
      break;
    case AdminVerb::kRestart:
      if (f.busy) {
        return Refuse(
            absl::UnavailableError(absl::StrCat(f.module, ": a script is running; retry later")));
      }
      plan.run_here = true;
      plan.restart_app = true;
      break;
    case AdminVerb::kSwap:
    case AdminVerb::kSecond:
    case AdminVerb::kPrim:
      return PlanMove(f);
  }
  return plan;
}

}  // namespace duet
