// The cluster key: 32 random bytes shared by both nodes and the witness, from which every
// HMAC key of the network layer is derived (DESIGN.md §7).
//
// File format: exactly 64 hexadecimal digits (either case) followed by one optional newline,
// nothing else. The file must be a regular file (a symlink to one is followed), owned by the
// process's effective uid, and have no permission bit for group or others (e.g. 0600 or 0400):
// a key anyone else can read is no secret, and duetd refuses to start with it.
#ifndef DUET_ADAPTERS_NET_CLUSTER_KEY_H_
#define DUET_ADAPTERS_NET_CLUSTER_KEY_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace duet::net {

inline constexpr size_t kClusterKeyBytes = 32;

struct ClusterKey {
  std::array<uint8_t, kClusterKeyBytes> bytes{};
  friend bool operator==(const ClusterKey&, const ClusterKey&) = default;
};

// Reads and checks the key file. Errors (each message names the file and what to do):
// NotFound / PermissionDenied when it cannot be opened; FailedPrecondition when it is not a
// regular file, is owned by another uid, or its mode lets group or others read or write it
// (the message shows the mode in octal); InvalidArgument when the content is not 64 hex
// digits and an optional newline.
absl::StatusOr<ClusterKey> LoadClusterKey(const std::string& path);

// Creates `path` (mode 0600, whatever the umask) holding a new key from the OpenSSL random
// generator, fsyncs it and its directory, and returns the key. AlreadyExists if `path` exists
// (a key is never overwritten: both nodes must keep the same one).
absl::StatusOr<ClusterKey> WriteNewClusterKey(const std::string& path);

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_CLUSTER_KEY_H_
