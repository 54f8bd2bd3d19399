#include "adapters/net/datagram_auth.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/net/byte_order.h"

namespace duet::net {
namespace {

constexpr uint8_t kMagic[4] = {'D', 'U', 'D', 'G'};
constexpr uint8_t kVersion = 2;
constexpr uint8_t kKindFresh = 0;
constexpr uint8_t kKindReply = 1;
constexpr uint8_t kKindChallenge = 2;
// Header layout offsets.
constexpr size_t kKindAt = 5;
constexpr size_t kSenderAt = 6;
constexpr size_t kReceiverAt = 7;
constexpr size_t kChannelAt = 8;
constexpr size_t kClusterAt = 16;
constexpr size_t kEpochAt = 24;
constexpr size_t kSeqAt = 32;
constexpr size_t kNonceAt = 40;
constexpr size_t kEchoNonceAt = 48;
constexpr size_t kEchoSeqAt = 56;

// A run's nonce: random, so that a run whose state was wiped differs from the one before.
uint64_t NewRunNonce() {
  uint64_t nonce = 0;
  while (nonce == 0) {  // 0 means "run not known"
    ssize_t got = getrandom(&nonce, sizeof nonce, 0);
    if (got != static_cast<ssize_t>(sizeof nonce) && errno != EINTR) std::abort();
  }
  return nonce;
}

}  // namespace

std::optional<ClusterId> ClaimedClusterId(std::span<const uint8_t> datagram) {
  if (datagram.size() < kDatagramHeaderBytes) return std::nullopt;
  ClusterId id{};
  std::memcpy(id.data(), datagram.data() + kClusterAt, id.size());
  return id;
}

DatagramAuth::DatagramAuth(const ClusterKey& key, absl::string_view cluster, uint8_t self,
                           uint64_t epoch, size_t max_datagram_bytes, size_t max_outstanding)
    : key_(HmacSha256(key.bytes).Derive({AsBytes("duet datagram v1"), AsBytes(cluster)})),
      cluster_id_(ClusterIdOf(cluster)),
      cluster_(cluster),
      self_(self),
      epoch_(epoch),
      nonce_(NewRunNonce()),
      max_datagram_bytes_(max_datagram_bytes),
      max_outstanding_(max_outstanding) {}

uint64_t DatagramAuth::RequestKey(uint8_t receiver, uint64_t seq) {
  // seq stays far below 2^56 (one datagram per microsecond for two thousand years).
  return (uint64_t{receiver} << 56) | (seq & ((uint64_t{1} << 56) - 1));
}

absl::StatusOr<std::vector<uint8_t>> DatagramAuth::SealWith(uint8_t kind, uint8_t receiver,
                                                            uint8_t channel, uint64_t epoch,
                                                            uint64_t seq, Echo echo,
                                                            std::span<const uint8_t> payload) {
  size_t total = kDatagramOverheadBytes + payload.size();
  if (total > max_datagram_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat("a datagram of ", payload.size(),
                                                   " payload bytes exceeds the cap of ",
                                                   max_datagram_bytes_, " bytes on the wire"));
  }
  std::vector<uint8_t> out(total, 0);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  out[4] = kVersion;
  out[kKindAt] = kind;
  out[kSenderAt] = self_;
  out[kReceiverAt] = receiver;
  out[kChannelAt] = channel;
  std::memcpy(out.data() + kClusterAt, cluster_id_.data(), sizeof(ClusterId));
  PutLittleEndian<uint64_t>(out.data() + kEpochAt, epoch);
  PutLittleEndian<uint64_t>(out.data() + kSeqAt, seq);
  PutLittleEndian<uint64_t>(out.data() + kNonceAt, nonce_);
  PutLittleEndian<uint64_t>(out.data() + kEchoNonceAt, echo.nonce);
  PutLittleEndian<uint64_t>(out.data() + kEchoSeqAt, echo.seq);
  if (!payload.empty())
    std::memcpy(out.data() + kDatagramHeaderBytes, payload.data(), payload.size());
  Tag tag = key_.Compute({std::span<const uint8_t>(out).first(total - kTagBytes)});
  std::memcpy(out.data() + total - kTagBytes, tag.data(), kTagBytes);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> DatagramAuth::Seal(uint8_t receiver, uint8_t channel,
                                                        std::span<const uint8_t> payload) {
  Echo echo;
  if (auto it = heard_.find(receiver); it != heard_.end())
    echo = {it->second.nonce, it->second.seq};
  absl::StatusOr<std::vector<uint8_t>> out =
      SealWith(kKindFresh, receiver, channel, epoch_, next_seq_, echo, payload);
  if (out.ok()) ++next_seq_;
  return out;
}

absl::StatusOr<std::vector<uint8_t>> DatagramAuth::SealRequest(uint8_t receiver, uint8_t channel,
                                                               std::span<const uint8_t> payload) {
  uint64_t seq = next_seq_;
  absl::StatusOr<std::vector<uint8_t>> out = Seal(receiver, channel, payload);
  if (!out.ok()) return out;
  uint64_t request = RequestKey(receiver, seq);
  outstanding_.insert(request);
  outstanding_order_.push_back(request);
  while (outstanding_order_.size() > max_outstanding_) {
    outstanding_.erase(outstanding_order_.front());
    outstanding_order_.pop_front();
  }
  return out;
}

std::optional<std::vector<uint8_t>> DatagramAuth::TakeChallenge() {
  return std::exchange(challenge_, std::nullopt);
}

absl::StatusOr<std::vector<uint8_t>> DatagramAuth::SealReply(const DatagramOrigin& request,
                                                             std::span<const uint8_t> payload) {
  return SealWith(kKindReply, request.sender, request.channel, request.epoch, request.seq,
                  Echo{request.nonce, request.seq}, payload);
}

std::variant<OpenedDatagram, Drop> DatagramAuth::Open(std::span<const uint8_t> datagram,
                                                      uint8_t channel) {
  challenge_.reset();
  if (datagram.size() > max_datagram_bytes_) {
    return Drop{DropReason::kOversized,
                absl::StrCat("datagram of ", datagram.size(), " bytes, above the cap of ",
                             max_datagram_bytes_)};
  }
  if (datagram.size() < kDatagramOverheadBytes) {
    return Drop{DropReason::kMalformed,
                absl::StrCat("datagram of ", datagram.size(), " bytes is shorter than a header")};
  }
  if (std::memcmp(datagram.data(), kMagic, sizeof kMagic) != 0 || datagram[4] != kVersion) {
    return Drop{DropReason::kMalformed, "not a Duet datagram of this version"};
  }
  uint8_t kind = datagram[kKindAt];
  if (kind != kKindFresh && kind != kKindReply && kind != kKindChallenge) {
    return Drop{DropReason::kMalformed, absl::StrCat("unknown datagram kind ", kind)};
  }
  if (std::memcmp(datagram.data() + kClusterAt, cluster_id_.data(), sizeof(ClusterId)) != 0) {
    return Drop{DropReason::kWrongCluster,
                absl::StrCat("datagram for another cluster than \"", cluster_, "\"")};
  }
  uint8_t sender = datagram[kSenderAt];
  uint8_t receiver = datagram[kReceiverAt];
  if (receiver != self_) {
    return Drop{DropReason::kMisdirected,
                absl::StrCat("datagram for party ", receiver, ", this is party ", self_)};
  }
  if (datagram[kChannelAt] != channel) {
    return Drop{DropReason::kMisdirected,
                absl::StrCat("datagram sent on channel ", datagram[kChannelAt],
                             ", received on channel ", channel)};
  }
  if (sender == self_) {
    return Drop{DropReason::kWrongSender, "datagram claims to come from this party (reflected)"};
  }
  std::span<const uint8_t> signed_part = datagram.first(datagram.size() - kTagBytes);
  Tag expected = key_.Compute({signed_part});
  if (!TagsEqual(expected, datagram.last<kTagBytes>())) {
    return Drop{DropReason::kBadTag,
                absl::StrCat("datagram from party ", sender, " fails its HMAC")};
  }
  OpenedDatagram opened;
  opened.cluster = cluster_id_;
  opened.origin.sender = sender;
  opened.origin.channel = datagram[kChannelAt];
  opened.origin.epoch = GetLittleEndian<uint64_t>(datagram.data() + kEpochAt);
  opened.origin.seq = GetLittleEndian<uint64_t>(datagram.data() + kSeqAt);
  opened.origin.nonce = GetLittleEndian<uint64_t>(datagram.data() + kNonceAt);
  const Echo echo{GetLittleEndian<uint64_t>(datagram.data() + kEchoNonceAt),
                  GetLittleEndian<uint64_t>(datagram.data() + kEchoSeqAt)};
  opened.is_reply = kind == kKindReply;
  opened.payload = datagram.subspan(kDatagramHeaderBytes, datagram.size() - kDatagramOverheadBytes);
  DatagramOrigin& o = opened.origin;
  if (kind == kKindChallenge) return OpenChallenge(o, echo);
  if (opened.is_reply) {
    uint64_t request = RequestKey(sender, o.seq);
    if (o.epoch != epoch_ || echo.nonce != nonce_ || !outstanding_.contains(request)) {
      return Drop{DropReason::kUnsolicitedReply,
                  absl::StrCat("reply from party ", sender, " to request (", o.epoch, ", ", o.seq,
                               "), which is not outstanding in this run")};
    }
    outstanding_.erase(request);  // the deque entry goes when it ages out
    o.nonce = echo.nonce;
    return opened;
  }
  Followed& followed = followed_[static_cast<uint16_t>(sender << 8 | o.channel)];
  bool unproven_run = false;
  if (std::optional<Drop> drop = CheckFresh(followed, o, echo, unproven_run)) {
    if (unproven_run && self_ == kWitnessId) {
      absl::StatusOr<std::vector<uint8_t>> challenge = SealWith(
          kKindChallenge, o.sender, o.channel, o.epoch, o.seq, Echo{o.nonce, next_seq_}, {});
      if (challenge.ok()) {
        ++next_seq_;
        challenge_ = *std::move(challenge);
      }
    }
    return *std::move(drop);
  }
  if (o.nonce != followed.nonce) {
    followed.nonce = o.nonce;
    followed.switched_at = next_seq_;
  }
  followed.epoch = o.epoch;
  followed.seq = o.seq;
  followed.highest_epoch = std::max(followed.highest_epoch, o.epoch);
  Heard& heard = heard_[sender];
  if (heard.nonce != o.nonce || heard.seq < o.seq) heard = Heard{o.nonce, o.seq};
  return opened;
}

std::variant<OpenedDatagram, Drop> DatagramAuth::OpenChallenge(const DatagramOrigin& o, Echo echo) {
  // `echo` = (the challenged request's nonce, the challenger's seq).
  if (o.epoch != epoch_ || echo.nonce != nonce_ ||
      !outstanding_.contains(RequestKey(o.sender, o.seq))) {
    return Drop{DropReason::kUnsolicitedReply,
                absl::StrCat("challenge from party ", o.sender, " to request (", o.epoch, ", ",
                             o.seq, "), which is not outstanding in this run")};
  }
  // Echoed from now on: the challenger follows this run once it sees it.
  Heard& heard = heard_[o.sender];
  if (heard.nonce != o.nonce || heard.seq < echo.seq) heard = Heard{o.nonce, echo.seq};
  return Drop{DropReason::kChallenged,
              absl::StrCat("party ", o.sender, " asked this run to show it is live; request (",
                           o.epoch, ", ", o.seq, ") unanswered, the next ones echo it")};
}

std::optional<Drop> DatagramAuth::CheckFresh(const Followed& followed, const DatagramOrigin& o,
                                             Echo echo, bool& unproven_run) const {
  const bool first = followed.nonce == 0 && followed.epoch == 0 && followed.seq == 0;
  if (first) return std::nullopt;
  if (o.nonce == followed.nonce) {
    if (o.seq > followed.seq) return std::nullopt;
    return Drop{DropReason::kReplayed,
                absl::StrCat("datagram ", o.seq, " from party ", o.sender,
                             " is not newer than datagram ", followed.seq, " already accepted")};
  }
  // Rule (a) of the header: made after this party began to follow the run it follows.
  if (echo.nonce == nonce_ && echo.seq >= followed.switched_at) return std::nullopt;
  unproven_run = true;
  if (followed.nonce == 0) {
    // Restored state: the run is not known, the saved (epoch, seq) is the bound.
    if (o.epoch > followed.epoch || (o.epoch == followed.epoch && o.seq > followed.seq)) {
      return std::nullopt;
    }
    if (o.epoch < followed.epoch) {
      return Drop{DropReason::kStaleEpoch,
                  absl::StrCat("datagram from party ", o.sender, " of epoch ", o.epoch,
                               ", older than its epoch ", followed.epoch, " already seen")};
    }
    return Drop{DropReason::kReplayed,
                absl::StrCat("datagram ", o.seq, " from party ", o.sender,
                             " is not newer than datagram ", followed.seq, " already accepted")};
  }
  // Another run of the sender: rule (b) of the header.
  if (o.epoch > followed.highest_epoch) return std::nullopt;
  return Drop{DropReason::kStaleEpoch,
              absl::StrCat("datagram from a run of party ", o.sender, " (epoch ", o.epoch,
                           ") that is not shown newer than the run followed (epoch ",
                           followed.epoch, "): its epoch is not above ", followed.highest_epoch,
                           " and it echoes no datagram this party sent since")};
}

std::vector<DatagramAuth::Newest> DatagramAuth::NewestAccepted() const {
  std::vector<Newest> out;
  out.reserve(followed_.size());
  for (const auto& [key, followed] : followed_) {
    out.push_back(Newest{static_cast<uint8_t>(key >> 8), static_cast<uint8_t>(key & 0xff),
                         followed.epoch, followed.seq});
  }
  return out;
}

void DatagramAuth::RestoreNewest(const std::vector<Newest>& saved) {
  for (const Newest& n : saved) {
    Followed& current = followed_[static_cast<uint16_t>(n.sender << 8 | n.channel)];
    if (n.epoch > current.epoch || (n.epoch == current.epoch && n.seq > current.seq)) {
      current.nonce = 0;
      current.epoch = n.epoch;
      current.seq = n.seq;
      current.highest_epoch = std::max(current.highest_epoch, n.epoch);
    }
  }
}

}  // namespace duet::net
