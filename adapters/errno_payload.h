// The exact errno behind a Status, carried from the adapter that saw it (the store, after a
// failed system call) to the one that reports it (the mount, to the application), through
// the engine, which copies Statuses whole. One constant shared by both ends, so the errno
// never has to be read back out of the message text.
#ifndef DUET_ADAPTERS_ERRNO_PAYLOAD_H_
#define DUET_ADAPTERS_ERRNO_PAYLOAD_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace duet {

// The payload's type URL; its value is the errno in decimal.
inline constexpr char kErrnoPayloadUrl[] = "duet/errno";

inline absl::Status WithErrno(absl::Status status, int err) {
  status.SetPayload(kErrnoPayloadUrl, absl::Cord(std::to_string(err)));
  return status;
}

}  // namespace duet

#endif  // DUET_ADAPTERS_ERRNO_PAYLOAD_H_
