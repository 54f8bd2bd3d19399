// The one TCP replication connection between the two nodes, authenticated per stream_auth.h,
// kept up for the daemon's life.
//
// Who connects: node 0 dials the peer's replication endpoint; node 1 listens on its own and
// accepts. A failed or broken connection is redialled after a capped exponential backoff
// (initial, doubled per failure up to max; reset when a connection that lasted max ends: one
// ended at once, as by a peer whose frames do not decode, counts as a failure). On the
// listening side a newly established connection replaces the current one (the peer restarted
// and dialled again before this side saw the old connection break).
//
// Callbacks (all on the io_context's thread): on_connected once the handshake and the peer's
// key confirmation verified; on_frame for each authenticated payload in order, as a head and a
// tail (below); then exactly
// one on_disconnected(reason) per connected connection, after which no frame of that
// connection is ever delivered. A dropped frame (bad tag, replayed, reordered, oversized: the
// length cap is checked before the body is read) is counted, logged and closes the
// connection. Send queues a payload on the current connection (unbounded: the engine's window
// bounds it; queued_bytes reports it); with no connection established it is discarded and
// Send returns false. Frames queued on a connection that breaks are discarded with it.
// Destroying the link (or Stop) closes everything without calling any callback.
// TCP_NODELAY is set, and TCP keepalive with TCP_USER_TIMEOUT so a vanished peer is noticed.
//
// Heads and tails, so that file data is never copied in user space: Send takes a payload as
// a head and a tail (a Payload kept, not copied, until written) and writes both in one gathered
// write. The receiver cuts a payload of at least kMinTailCutBytes whose first 4 bytes are the
// little-endian length n of the rest of a head, with 4 + n below its size (an engine frame's
// FlatBuffers size prefix is that length): the head is read into the link's buffer, the tail
// straight into a buffer of its own that on_frame receives as a Payload and may keep. Any
// other payload arrives whole as the head, with a null tail. The cut is the receiver's alone:
// the bytes on the wire and their tag are those of the joined payload.
#ifndef DUET_ADAPTERS_NET_REPLICATION_LINK_H_
#define DUET_ADAPTERS_NET_REPLICATION_LINK_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/net_counters.h"
#include "engine/config.h"
#include "engine/replication/mutation.h"
#include "engine/types.h"

namespace duet::net {

struct ReplicationLinkOptions {
  std::string cluster;         // the config's cluster name
  NodeIndex self = 0;          // 0 dials, 1 listens
  Endpoint listen;             // node 1: its own replication endpoint (port 0: any free)
  Endpoint peer;               // node 0: the peer's replication endpoint
  size_t max_frame_bytes = 0;  // cap on a received payload (e.g. kMaxReplicationFrameBytes)
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // Limit for connect + handshake + confirmation, and for a silent peer (TCP_USER_TIMEOUT).
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds dead_peer_timeout{10000};
};

// Smallest payload whose tail the receiver reads apart (smaller ones are read in one piece).
inline constexpr size_t kMinTailCutBytes = size_t{64} << 10;

struct ReplicationCallbacks {
  std::function<void()> on_connected;
  // `head` valid during the call; `tail` (null when the payload was not cut) the callee's.
  std::function<void(std::span<const uint8_t> head, Payload tail)> on_frame;
  std::function<void(const std::string& reason)> on_disconnected;
  NetLog log;
};

class ReplicationLink {
 public:
  // Resolves the endpoints, binds the listener (node 1) or starts dialling (node 0).
  // InvalidArgument for a bad option or endpoint, Unavailable when the listener cannot bind.
  static absl::StatusOr<std::unique_ptr<ReplicationLink>> Start(boost::asio::io_context& io,
                                                                const ClusterKey& key,
                                                                ReplicationLinkOptions options,
                                                                ReplicationCallbacks callbacks);
  ~ReplicationLink();
  ReplicationLink(const ReplicationLink&) = delete;
  ReplicationLink& operator=(const ReplicationLink&) = delete;

  // Queues the payload `head` then `tail` (e.g. an encoded engine frame: wire::ReplicationParts)
  // on the established connection. The tail's bytes are not copied, and must not change.
  bool Send(std::vector<uint8_t> head, Payload tail = nullptr);
  bool connected() const;
  // Bytes queued on the current connection and not yet written to the socket.
  size_t queued_bytes() const;
  const NetCounters& counters() const;
  // Connections established since Start.
  uint64_t connections() const;
  // The listener's bound endpoint (node 1), for a port chosen by the system.
  boost::asio::ip::tcp::endpoint listen_endpoint() const;
  // Closes every connection and the listener; no callback runs afterwards.
  void Stop();
  // Ends the current connection as if it broke (on_disconnected(reason) follows from the
  // loop; the link redials or accepts as after any break). For a frame that authenticated but
  // that the receiver cannot use: the stream is taken to be gap-free (adapter contract C6).
  void Reset(const std::string& reason);

  class Impl;

 private:
  explicit ReplicationLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_REPLICATION_LINK_H_
