#include "adapters/daemon/module_layout.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace duet::daemon {
namespace {

// Whether `component` is DirectoryPrefix(i) for some i < count (no leading zeros: "01" is not
// a directory's name).
bool IsPrefix(absl::string_view component, size_t count) {
  if (component.empty() || (component.size() > 1 && component[0] == '0')) return false;
  for (char c : component) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  size_t index = 0;
  return absl::SimpleAtoi(component, &index) && index < count;
}

// Kinds that remove or move the name they are given: never allowed on a directory's root.
bool MovesOrRemoves(MutationKind kind) {
  switch (kind) {
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRename:
    case MutationKind::kLink:
    case MutationKind::kRemoveTree:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string DirectoryPrefix(size_t directory_index) { return std::to_string(directory_index); }

absl::Status CheckMutationWithinDirectories(const Mutation& mutation, size_t directory_count) {
  if (mutation.kind == MutationKind::kFsync && mutation.path.empty()) return absl::OkStatus();
  absl::Status status;
  ForEachChangedName(mutation, [&](const std::string& name) {
    if (!status.ok()) return;
    const size_t slash = name.find('/');
    const absl::string_view first = absl::string_view(name).substr(0, slash);
    const bool root_itself = slash == std::string::npos;
    if (!IsPrefix(first, directory_count) || (root_itself && MovesOrRemoves(mutation.kind))) {
      status = absl::PermissionDeniedError(
          absl::StrCat(MutationKindName(mutation.kind), " of \"", name,
                       "\" is outside the module's ", directory_count,
                       root_itself && IsPrefix(first, directory_count)
                           ? " directories (it would remove or move one of them)"
                           : " directories"));
    }
  });
  return status;
}

}  // namespace duet::daemon
