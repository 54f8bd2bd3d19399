// Early-return helpers for absl::Status / absl::StatusOr (Debian's Abseil 20220623 has none).
#ifndef DUET_ENGINE_STATUS_MACROS_H_
#define DUET_ENGINE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DUET_CONCAT_INNER_(a, b) a##b
#define DUET_CONCAT_(a, b) DUET_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define DUET_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status duet_status_ = (expr);        \
    if (!duet_status_.ok()) return duet_status_; \
  } while (false)

// `lhs = value of expr`, or returns its error status.
#define DUET_ASSIGN_OR_RETURN(lhs, expr) \
  DUET_ASSIGN_OR_RETURN_IMPL_(DUET_CONCAT_(duet_statusor_, __LINE__), lhs, expr)
#define DUET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#endif  // DUET_ENGINE_STATUS_MACROS_H_
