// PayloadBuffers: taking a kept buffer of about the size wanted, and giving it back.
#include "adapters/fuse/payload_buffers.h"

#include <utility>

namespace duet {

std::shared_ptr<PayloadBuffers> PayloadBuffers::Create(size_t max_kept) {
  return std::shared_ptr<PayloadBuffers>(new PayloadBuffers(max_kept));
}

std::unique_ptr<std::string> PayloadBuffers::Take(size_t size) {
  std::unique_ptr<std::string> bytes;
  if (size >= kMinPooled) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      // Its size, not its capacity: only the bytes below size() may be kept unwritten.
      if ((*it)->size() >= size && (*it)->size() / 2 <= size) {
        bytes = std::move(*it);
        kept_.erase(it);
        break;
      }
    }
  }
  if (bytes == nullptr) bytes = std::make_unique<std::string>();
  bytes->resize(size);  // a kept buffer shrinks: no byte written but the terminator
  return bytes;
}

Payload PayloadBuffers::Seal(std::unique_ptr<std::string> bytes) {
  if (bytes->size() < kMinPooled) return MakePayload(std::move(*bytes));
  std::weak_ptr<PayloadBuffers> home = weak_from_this();
  return Payload(bytes.release(), [home](const std::string* done) {
    std::string* buffer = const_cast<std::string*>(done);  // it was made non-const in Take
    if (const std::shared_ptr<PayloadBuffers> buffers = home.lock()) {
      buffers->GiveBack(buffer);
    } else {
      delete buffer;
    }
  });
}

size_t PayloadBuffers::kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_.size();
}

void PayloadBuffers::GiveBack(std::string* bytes) {
  std::unique_ptr<std::string> owned(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  if (kept_.size() < max_kept_) kept_.push_back(std::move(owned));
}

}  // namespace duet
