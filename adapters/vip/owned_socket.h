// A socket descriptor closed when it goes out of scope; the vip unit's sockets live for one
// request or one announcement.
#ifndef DUET_ADAPTERS_VIP_OWNED_SOCKET_H_
#define DUET_ADAPTERS_VIP_OWNED_SOCKET_H_

#include <unistd.h>

#include <utility>

namespace duet::vip {

class OwnedSocket {
 public:
  explicit OwnedSocket(int fd = -1) : fd_(fd) {}
  ~OwnedSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  OwnedSocket(OwnedSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedSocket& operator=(OwnedSocket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  OwnedSocket(const OwnedSocket&) = delete;
  OwnedSocket& operator=(const OwnedSocket&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace duet::vip

#endif  // DUET_ADAPTERS_VIP_OWNED_SOCKET_H_
