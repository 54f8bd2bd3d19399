#include "adapters/net/replication_link.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/net/stream_auth.h"
#include "gtest/gtest.h"
#include "net_test_util.h"

namespace duet::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr size_t kCap = 1 << 20;

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }

// What one side's callbacks saw.
struct Events {
  int connected = 0;
  std::vector<std::string> frames;  // head and tail joined
  std::vector<Payload> tails;
  std::vector<std::string> disconnects;
  LogLines log;
  ReplicationCallbacks Callbacks() {
    return {[this] { ++connected; },
            [this](std::span<const uint8_t> head, Payload tail) {
              frames.emplace_back(head.begin(), head.end());
              if (tail != nullptr) frames.back() += *tail;
              tails.push_back(tail);
            },
            [this](const std::string& reason) { disconnects.push_back(reason); }, log.Sink()};
  }
};

std::unique_ptr<ReplicationLink> StartLink(asio::io_context& io, NodeIndex self, Endpoint listen,
                                           Endpoint peer, Events& events) {
  ReplicationLinkOptions options;
  options.cluster = "prod";
  options.self = self;
  options.listen = std::move(listen);
  options.peer = std::move(peer);
  options.max_frame_bytes = kCap;
  options.backoff_initial = std::chrono::milliseconds(20);
  options.backoff_max = std::chrono::milliseconds(200);
  absl::StatusOr<std::unique_ptr<ReplicationLink>> link =
      ReplicationLink::Start(io, TestKey(), options, events.Callbacks());
  EXPECT_TRUE(link.ok()) << link.status();
  return link.ok() ? *std::move(link) : nullptr;
}

std::unique_ptr<ReplicationLink> StartListener(asio::io_context& io, Events& events,
                                               uint16_t port = 0) {
  return StartLink(io, 1, {"127.0.0.3", port}, {}, events);
}

// A hand-driven node 0 on a blocking socket: it speaks the protocol with stream_auth.h
// directly, so a test can send frames the real link never would.
class RawPeer {
 public:
  RawPeer(asio::io_context& io, const tcp::endpoint& to) : io_(io), socket_(io) {
    socket_.open(tcp::v4());
    socket_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
    socket_.connect(to);
  }

  // Exchanges hellos (running the link's loop meanwhile) and sends the confirmation; `best`
  // kHmacSha256 plays a build from before the faster MAC was offered.
  void Handshake(StreamMac best = StreamMac::kChaCha20Poly1305) {
    absl::StatusOr<StreamHandshake> handshake = StreamHandshake::Begin(TestKey(), "prod", 0, best);
    ASSERT_TRUE(handshake.ok());
    asio::write(socket_, asio::buffer(handshake->hello()));
    ASSERT_TRUE(RunUntil(io_, [&] { return socket_.available() >= kStreamHelloBytes; }));
    std::array<uint8_t, kStreamHelloBytes> hello{};
    asio::read(socket_, asio::buffer(hello));
    auto session = handshake->Complete(hello, 1, kCap);
    ASSERT_TRUE(std::holds_alternative<StreamSession>(session));
    session_.emplace(std::get<StreamSession>(std::move(session)));
    Write(Wire(session_->confirmation, {}));
  }

  // The bytes of the next frame carrying `payload`.
  std::vector<uint8_t> Seal(const std::vector<uint8_t>& payload) {
    return Wire(session_->sealer.Seal(payload), payload);
  }
  void Write(const std::vector<uint8_t>& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  size_t tag_bytes() const { return session_->confirmation.tag_bytes; }

  static std::vector<uint8_t> Wire(const SealedFrame& frame, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> out(frame.header.begin(), frame.header.end());
    out.insert(out.end(), payload.begin(), payload.end());
    std::span<const uint8_t> tag = frame.wire_tag();
    out.insert(out.end(), tag.begin(), tag.end());
    return out;
  }

 private:
  asio::io_context& io_;
  tcp::socket socket_;
  std::optional<StreamSession> session_;
};

TEST(ReplicationLink, Node0DialsNode1AndFramesFlowInOrderBothWays) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", listener->listen_endpoint().port()}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(dialer->Send(Bytes("to 1: " + std::to_string(i))));
  EXPECT_GT(dialer->queued_bytes(), 0u);
  EXPECT_TRUE(listener->Send(Bytes("to 0")));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.frames.size() == 100 && at0.frames.size() == 1; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(at1.frames[i], "to 1: " + std::to_string(i));
  EXPECT_EQ(at0.frames[0], "to 0");
  ASSERT_TRUE(RunUntil(io, [&] { return dialer->queued_bytes() == 0; }));
  EXPECT_EQ(listener->counters().TotalDrops() + dialer->counters().TotalDrops(), 0u);
}

TEST(ReplicationLink, ResetEndsTheConnectionOnBothSidesAndTheDialerReconnects) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", listener->listen_endpoint().port()}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
  listener->Reset("frame 7 does not decode");
  ASSERT_TRUE(
      RunUntil(io, [&] { return at1.disconnects.size() == 1 && at0.disconnects.size() == 1; }));
  EXPECT_EQ(at1.disconnects[0], "frame 7 does not decode");
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 2 && at1.connected == 2; }));
  EXPECT_TRUE(dialer->Send(Bytes("after the reset")));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.frames.size() == 1; }));
  EXPECT_EQ(at1.frames[0], "after the reset");
}

// A peer whose frames never decode (one of another wire version) has every connection reset
// as soon as it is up: the dialer backs off as after a failed connect (20, 40, 80 ms...),
// instead of reconnecting, and logging it, at the initial pace for ever.
TEST(ReplicationLink, ConnectionsResetAtOnceBackOffLikeFailures) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", listener->listen_endpoint().port()}, at0);
  std::vector<std::chrono::steady_clock::time_point> ups;
  for (int n = 1; n <= 4; ++n) {
    ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == n; }));
    ups.push_back(std::chrono::steady_clock::now());
    listener->Reset("peer speaks wire version 1, this build 2");
  }
  // The gaps hold the doubled delays (20 + 40 + 80 ms at least), not three initial ones.
  EXPECT_GE(ups.back() - ups.front(), std::chrono::milliseconds(140));
  EXPECT_EQ(at1.disconnects.back(), "peer speaks wire version 1, this build 2");
}

// A head whose first 4 bytes give the length of the rest (as an engine frame's size prefix).
std::vector<uint8_t> PrefixedHead(const std::string& text) {
  std::vector<uint8_t> head(4 + text.size());
  const auto n = static_cast<uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) head[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(text.begin(), text.end(), head.begin() + 4);
  return head;
}

TEST(ReplicationLink, ALargePayloadsTailArrivesInABufferOfItsOwn) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", listener->listen_endpoint().port()}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
  const Payload data = MakePayload(std::string(kMinTailCutBytes, 'd'));
  const std::vector<uint8_t> head = PrefixedHead("write f at 0");
  EXPECT_TRUE(dialer->Send(head, data));
  // Below the cut size: one piece, as is a payload that does not start with a head length.
  EXPECT_TRUE(dialer->Send(head, MakePayload("small")));
  EXPECT_TRUE(dialer->Send(Bytes(std::string(kMinTailCutBytes + 10, 'r'))));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.frames.size() == 3; }));
  const std::string head_text(head.begin(), head.end());
  EXPECT_EQ(at1.frames[0], head_text + *data);
  ASSERT_NE(at1.tails[0], nullptr);
  EXPECT_EQ(*at1.tails[0], *data);
  EXPECT_EQ(at1.frames[1], head_text + "small");
  EXPECT_EQ(at1.tails[1], nullptr);
  EXPECT_EQ(at1.frames[2], std::string(kMinTailCutBytes + 10, 'r'));
  EXPECT_EQ(at1.tails[2], nullptr);
  ASSERT_TRUE(RunUntil(io, [&] { return dialer->queued_bytes() == 0; }));
  EXPECT_EQ(listener->counters().TotalDrops(), 0u);
}

TEST(ReplicationLink, AForgedTailIsDroppedCountedLoggedAndEndsTheConnection) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
  std::vector<uint8_t> payload = PrefixedHead("write f at 0");
  payload.resize(payload.size() + kMinTailCutBytes, 'd');
  std::vector<uint8_t> frame = peer.Seal(payload);
  frame[frame.size() - peer.tag_bytes() - 1] ^= 1;  // the tail's last byte
  peer.Write(frame);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_TRUE(at1.frames.empty());
  EXPECT_EQ(listener->counters().bad_tag, 1u);
  EXPECT_TRUE(at1.log.Contains("dropped (bad tag)"));
  EXPECT_TRUE(at1.log.Contains("fails its ChaCha20-Poly1305 tag"));
}

TEST(ReplicationLink, ATruncatedTailIsNeverDelivered) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  {
    RawPeer peer(io, listener->listen_endpoint());
    peer.Handshake();
    ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
    std::vector<uint8_t> payload = PrefixedHead("write f at 0");
    payload.resize(payload.size() + kMinTailCutBytes, 'd');
    std::vector<uint8_t> frame = peer.Seal(payload);
    frame.resize(frame.size() - peer.tag_bytes() - 100);  // the peer goes away inside the tail
    peer.Write(frame);
  }
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_TRUE(at1.frames.empty());
  EXPECT_NE(at1.disconnects[0].find("read failed"), std::string::npos) << at1.disconnects[0];
}

TEST(ReplicationLink, TheLinksNegotiateChaCha20Poly1305AndSayItWhenConnected) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", listener->listen_endpoint().port()}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
  EXPECT_TRUE(at0.log.Contains("(frames authenticated with ChaCha20-Poly1305)"));
  EXPECT_TRUE(at1.log.Contains("(frames authenticated with ChaCha20-Poly1305)"));
}

// A peer of a build before the offer (a rolling upgrade): HMAC-SHA256, and its frames, forged
// or not, are judged by it.
TEST(ReplicationLink, AnOlderPeerIsServedWithHmacSha256) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake(StreamMac::kHmacSha256);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
  EXPECT_TRUE(at1.log.Contains("(frames authenticated with HMAC-SHA256)"));
  EXPECT_EQ(peer.tag_bytes(), kTagBytes);
  peer.Write(peer.Seal(Bytes("write a")));
  std::vector<uint8_t> forged = peer.Seal(Bytes("write b"));
  forged[forged.size() - 1] ^= 1;  // the tag's last byte
  peer.Write(forged);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_EQ(at1.frames, std::vector<std::string>{"write a"});
  EXPECT_EQ(listener->counters().bad_tag, 1u);
  EXPECT_TRUE(at1.log.Contains("fails its HMAC-SHA256 tag"));
}

TEST(ReplicationLink, SendWithoutAConnectionIsRefused) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  EXPECT_FALSE(listener->connected());
  EXPECT_FALSE(listener->Send(Bytes("nobody there")));
}

TEST(ReplicationLink, ForgedFrameIsDroppedCountedLoggedAndEndsTheConnection) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
  std::vector<uint8_t> frame = peer.Seal(Bytes("rename a b"));
  frame[kFrameHeaderBytes] ^= 1;  // first payload byte
  peer.Write(frame);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_TRUE(at1.frames.empty());
  EXPECT_EQ(listener->counters().bad_tag, 1u);
  EXPECT_NE(at1.disconnects[0].find("bad tag"), std::string::npos) << at1.disconnects[0];
  EXPECT_TRUE(at1.log.Contains("dropped (bad tag)"));
}

TEST(ReplicationLink, ReplayedFrameIsDropped) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake();
  std::vector<uint8_t> frame = peer.Seal(Bytes("write"));
  peer.Write(frame);
  peer.Write(frame);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_EQ(at1.frames, std::vector<std::string>{"write"});
  EXPECT_EQ(listener->counters().replayed, 1u);
}

TEST(ReplicationLink, ReorderedFrameIsDropped) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake();
  std::vector<uint8_t> first = peer.Seal(Bytes("first"));
  std::vector<uint8_t> second = peer.Seal(Bytes("second"));
  peer.Write(second);
  peer.Write(first);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_TRUE(at1.frames.empty());
  EXPECT_EQ(listener->counters().reordered, 1u);
}

TEST(ReplicationLink, OversizedLengthIsRefusedBeforeTheBodyIsRead) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer peer(io, listener->listen_endpoint());
  peer.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
  // Only a header announcing one byte above the cap: if the link waited for the body, it
  // would never disconnect.
  FrameHeader header{};
  uint32_t length = kCap + 1;
  for (int i = 0; i < 4; ++i) header[i] = static_cast<uint8_t>(length >> (8 * i));
  header[4] = 1;  // seq 1
  peer.Write(std::vector<uint8_t>(header.begin(), header.end()));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  EXPECT_EQ(listener->counters().oversized, 1u);
  EXPECT_NE(at1.disconnects[0].find("body not read"), std::string::npos) << at1.disconnects[0];
}

TEST(ReplicationLink, FrameRecordedOnAnEarlierConnectionFailsOnTheNext) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  std::vector<uint8_t> recorded;
  {
    RawPeer first(io, listener->listen_endpoint());
    first.Handshake();
    recorded = first.Seal(Bytes("delete everything"));
    first.Write(recorded);
    ASSERT_TRUE(RunUntil(io, [&] { return at1.frames.size() == 1; }));
  }
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 1; }));
  RawPeer second(io, listener->listen_endpoint());
  second.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 2; }));
  second.Write(recorded);
  ASSERT_TRUE(RunUntil(io, [&] { return at1.disconnects.size() == 2; }));
  EXPECT_EQ(at1.frames.size(), 1u);
  EXPECT_EQ(listener->counters().bad_tag, 1u);
}

TEST(ReplicationLink, NewConnectionReplacesTheOldAndTheOldDeliversNothingMore) {
  asio::io_context io;
  Events at1;
  auto listener = StartListener(io, at1);
  RawPeer old_peer(io, listener->listen_endpoint());
  old_peer.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 1; }));
  RawPeer new_peer(io, listener->listen_endpoint());
  new_peer.Handshake();
  ASSERT_TRUE(RunUntil(io, [&] { return at1.connected == 2; }));
  ASSERT_EQ(at1.disconnects.size(), 1u);
  EXPECT_NE(at1.disconnects[0].find("replaced"), std::string::npos);
  old_peer.Write(old_peer.Seal(Bytes("stale")));
  new_peer.Write(new_peer.Seal(Bytes("fresh")));
  ASSERT_TRUE(RunUntil(io, [&] { return !at1.frames.empty(); }));
  EXPECT_EQ(at1.frames, std::vector<std::string>{"fresh"});
  EXPECT_EQ(at1.disconnects.size(), 1u);
}

TEST(ReplicationLink, DialerReconnectsAfterTheListenerRestarts) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  uint16_t port = listener->listen_endpoint().port();
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", port}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1; }));
  listener.reset();
  ASSERT_TRUE(RunUntil(io, [&] { return at0.disconnects.size() == 1; }));
  EXPECT_FALSE(dialer->connected());
  EXPECT_FALSE(dialer->Send(Bytes("lost")));
  Events at1_again;
  auto restarted = StartListener(io, at1_again, port);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 2 && at1_again.connected == 1; }));
  EXPECT_TRUE(dialer->Send(Bytes("after restart")));
  ASSERT_TRUE(RunUntil(io, [&] { return at1_again.frames.size() == 1; }));
  EXPECT_EQ(at1_again.frames[0], "after restart");
  EXPECT_EQ(dialer->connections(), 2u);
}

TEST(ReplicationLink, DialerKeepsRetryingUntilTheListenerAppears) {
  asio::io_context io;
  uint16_t port = 0;
  {
    // A port that was free a moment ago and has no listener now.
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
    port = probe.local_endpoint().port();
  }
  Events at0, at1;
  auto dialer = StartLink(io, 0, {}, {"127.0.0.3", port}, at0);
  auto failed_attempts = [&] {
    int n = 0;
    for (const std::string& line : at0.log.lines) n += line.find("connect failed") != line.npos;
    return n;
  };
  ASSERT_TRUE(RunUntil(io, [&] { return failed_attempts() >= 3; }));
  EXPECT_EQ(at0.connected, 0);
  EXPECT_TRUE(at0.disconnects.empty());  // attempts that never connected are not disconnects
  auto listener = StartListener(io, at1, port);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
}

TEST(ReplicationLink, SilentConnectionIsClosedAtTheHandshakeTimeout) {
  asio::io_context io;
  Events at1;
  ReplicationLinkOptions options;
  options.cluster = "prod";
  options.self = 1;
  options.listen = {"127.0.0.3", 0};
  options.max_frame_bytes = kCap;
  options.handshake_timeout = std::chrono::milliseconds(200);
  auto listener = ReplicationLink::Start(io, TestKey(), options, at1.Callbacks());
  ASSERT_TRUE(listener.ok());
  tcp::socket silent(io);
  silent.connect((*listener)->listen_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return at1.log.Contains("timed out"); }));
  EXPECT_EQ(at1.connected, 0);
  // The listener closed its end: the silent client reads its hello, then end of file.
  std::array<uint8_t, kStreamHelloBytes + 1> buffer{};
  boost::system::error_code error;
  asio::read(silent, asio::buffer(buffer), error);
  EXPECT_EQ(error, asio::error::eof);
}

TEST(ReplicationLink, PeerWithAnotherKeyNeverConnects) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartListener(io, at1);
  ReplicationLinkOptions options;
  options.cluster = "prod";
  options.self = 0;
  options.peer = {"127.0.0.3", listener->listen_endpoint().port()};
  options.max_frame_bytes = kCap;
  auto dialer = ReplicationLink::Start(io, TestKey(50), options, at0.Callbacks());
  ASSERT_TRUE(dialer.ok());
  ASSERT_TRUE(RunUntil(io, [&] { return listener->counters().bad_tag >= 1; }));
  EXPECT_EQ(at1.connected, 0);
  EXPECT_EQ(at0.connected, 0);
  EXPECT_TRUE(at1.log.Contains("hello fails its HMAC"));
}

TEST(ReplicationLink, WorksOverIpv6Loopback) {
  asio::io_context io;
  Events at0, at1;
  auto listener = StartLink(io, 1, {"::1", 0}, {}, at1);
  auto dialer = StartLink(io, 0, {}, {"::1", listener->listen_endpoint().port()}, at0);
  ASSERT_TRUE(RunUntil(io, [&] { return at0.connected == 1 && at1.connected == 1; }));
  dialer->Send(Bytes("v6"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.frames.size() == 1; }));
}

}  // namespace
}  // namespace duet::net
