// Reused buffers for the data of large writes. A Payload is a std::string, which cannot be
// sized without being filled: a fresh 1 MiB buffer per write cost a memset of the bytes the
// copy then overwrites, and page faults and brk calls as malloc gave the memory back to the
// system between writes. Here the buffer of a Payload that is no longer referenced comes
// back (the Payload's deleter returns it) and the next write of about its size takes it:
// shrinking a std::string to the size wanted writes nothing but the terminator.
//
// Writes under kMinPooled bytes are not pooled (malloc serves them well), nor is a buffer
// more than twice the size asked (a small write must not pin a large buffer while the
// engine holds its Payload). At most `max_kept` buffers wait here.
//
// Thread-safe: Take and Seal on FUSE worker threads, a Payload released on any thread. A
// Payload may outlive its PayloadBuffers (its buffer is then freed).
#ifndef DUET_ADAPTERS_FUSE_PAYLOAD_BUFFERS_H_
#define DUET_ADAPTERS_FUSE_PAYLOAD_BUFFERS_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/replication/mutation.h"

namespace duet {

class PayloadBuffers : public std::enable_shared_from_this<PayloadBuffers> {
 public:
  static constexpr size_t kMinPooled = 64 << 10;

  static std::shared_ptr<PayloadBuffers> Create(size_t max_kept);

  // A buffer of exactly `size` bytes whose contents are unspecified (a kept buffer holds an
  // earlier write's bytes): the caller overwrites all of them before Seal.
  std::unique_ptr<std::string> Take(size_t size);

  // The Payload of `bytes`; when its last reference goes, the buffer comes back here.
  Payload Seal(std::unique_ptr<std::string> bytes);

  size_t kept() const;

 private:
  explicit PayloadBuffers(size_t max_kept) : max_kept_(max_kept) {}
  void GiveBack(std::string* bytes);

  const size_t max_kept_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> kept_;
};

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_PAYLOAD_BUFFERS_H_
