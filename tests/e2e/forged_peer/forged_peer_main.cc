// duet-forged-peer: a compromised (or buggy) node "a" that holds the real cluster key, for
// tests/e2e/forged_peer_test.py. It speaks the real wire through the real network adapters:
// authenticated heartbeats that make the peer take it for the module's owner and primary, the
// replication connection, a Hello that mirrors the peer's so the peer attaches as the
// secondary, an empty resync, and then stream writes whose paths try to leave the peer's
// backing directory (`..`, absolute paths, through symlinks it replicated first, renames and
// links whose second path escapes), between plain writes that must land.
//
// Usage: duet-forged-peer --config FILE --module NAME --outside-dir DIR --canary FILE
// It prints one line per step, "STEP <name> lsn <n>: <outcome>" (outcome: applied, refused,
// connection reset, or no answer), then "DONE", and keeps sending heartbeats (so the peer stays
// secondary while the test looks at it) until SIGTERM or SIGINT. A failure to reach a session
// prints "FAILED: <why>" and exits 1. Every wait has a timeout; nothing sleeps.
#include <signal.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adapters/daemon/config_file.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/net/replication_link.h"
#include "adapters/net/udp_link.h"
#include "engine/config.h"
#include "engine/messages.h"
#include "engine/overloaded.h"
#include "engine/replication/repl_messages.h"
#include "engine/wire/codec.h"

namespace duet::forged {
namespace {

constexpr NodeIndex kSelf = 0;  // plays node "a", the first [[node]] of the config
constexpr NodeIndex kVictim = 1;
constexpr auto kWait = std::chrono::seconds(20);

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// What a step expects is the test's business: this program reports what happened.
struct Step {
  std::string name;
  Mutation mutation;
};

// As the primary's adapter stamps a change: with its time, where the kind takes one.
Mutation Stamped(Mutation m) {
  m.mtime_ns = StampsChangeTime(m) ? absl::ToUnixNanos(absl::Now()) : 0;
  return m;
}

Mutation Make(MutationKind kind, std::string path, std::string path2 = "") {
  Mutation m;
  m.kind = kind;
  m.path = std::move(path);
  m.path2 = std::move(path2);
  if (kind == MutationKind::kCreate) m.mode = 0644;
  if (kind == MutationKind::kMkdir) m.mode = 0755;
  return Stamped(std::move(m));
}

Mutation Write(std::string path, std::string bytes) {
  Mutation m = Make(MutationKind::kWrite, std::move(path));
  m.data = MakePayload(std::move(bytes));
  return Stamped(std::move(m));
}

// Mode 0777 and a new mtime: what a followed symlink would give the file it points at.
Mutation Chmod(std::string path) {
  Mutation m = Make(MutationKind::kSetattr, std::move(path));
  m.attr_mask = kAttrMode | kAttrMtime;
  m.mode = 0777;
  m.mtime_ns = absl::ToUnixNanos(absl::Now());
  return m;
}

Mutation Setxattr(std::string path) {
  Mutation m = Make(MutationKind::kSetxattr, std::move(path));
  m.xattr_name = "user.forged";
  m.data = MakePayload("forged");
  return m;
}

class ForgedPeer {
 public:
  ForgedPeer(boost::asio::io_context& io, Config config, net::ClusterKey key, std::string module)
      : io_(io),
        config_(std::move(config)),
        key_(key),
        module_(std::move(module)),
        auth_(key_, config_.cluster_name, kSelf, /*epoch=*/1),
        heartbeat_timer_(io) {}

  absl::Status Open() {
    const NodeConfig& me = config_.nodes[kSelf];
    const NodeConfig& victim = config_.nodes[kVictim];
    auto log = [](std::string line) { Say(absl::StrCat("net: ", line)); };
    for (size_t i = 0; i < me.heartbeat.size(); ++i) {
      net::UdpLinkOptions options;
      options.link_index = static_cast<int>(i);
      options.local = me.heartbeat[i];
      options.remote = victim.heartbeat[i];
      options.remote_id = kVictim;
      options.channel = static_cast<uint8_t>(i);
      // The victim's heartbeats are not needed: the forged views do not depend on them.
      auto link = net::UdpLink::Open(
          io_, auth_, options,
          [](int, const net::OpenedDatagram&, const boost::asio::ip::udp::endpoint&) {}, log);
      if (!link.ok()) return link.status();
      heartbeat_links_.push_back(*std::move(link));
    }
    net::ReplicationLinkOptions options;
    options.cluster = config_.cluster_name;
    options.self = kSelf;  // node 0 dials
    options.peer = victim.replication;
    options.max_frame_bytes = wire::kMaxReplicationFrameBytes;
    net::ReplicationCallbacks callbacks;
    callbacks.on_connected = [] { Say("replication connection up"); };
    callbacks.on_frame = [this](std::span<const uint8_t> head, Payload tail) {
      OnFrame(head, std::move(tail));
    };
    callbacks.on_disconnected = [this](const std::string& reason) {
      Say(absl::StrCat("replication connection lost: ", reason));
      session_ready_ = false;
      ++disconnects_;
    };
    callbacks.log = log;
    auto link = net::ReplicationLink::Start(io_, key_, options, std::move(callbacks));
    if (!link.ok()) return link.status();
    replication_ = *std::move(link);
    SendHeartbeat();
    return absl::OkStatus();
  }

  // Runs the loop until `done` holds (true) or the wait times out (false).
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  bool WaitForSession() {
    return RunUntil([this] { return session_ready_; });
  }

  // Sends one stream write and reports what the victim did with it.
  void Run(const Step& step) {
    const uint64_t lsn = next_lsn_++;
    const uint64_t disconnects = disconnects_;
    Send(ReplWrite{module_, lsn, step.mutation});
    const bool answered =
        RunUntil([&] { return disconnects_ != disconnects || acked_done_ >= lsn; });
    std::string outcome = "no answer";
    if (disconnects_ != disconnects) {
      outcome = "connection reset";
    } else if (answered) {
      outcome = refused_.contains(lsn) ? "refused" : "applied";
    }
    Say(absl::StrCat("STEP ", step.name, " lsn ", lsn, ": ", outcome));
  }

  void Stop() {
    heartbeat_timer_.cancel();
    if (replication_) replication_->Stop();
    heartbeat_links_.clear();
  }

 private:
  void Send(const ReplMessage& message) {
    wire::ReplicationParts parts = wire::EncodeReplicationParts(message);
    replication_->Send(std::move(parts.head), std::move(parts.tail));
  }

  // The module's owner and primary at term 1, its copy up to date: the victim (not the default
  // primary, its data not yet known) takes the secondary role.
  void SendHeartbeat() {
    Heartbeat hb;
    hb.from = kSelf;
    hb.incarnation = 1;
    hb.seq = ++heartbeat_seq_;
    hb.sent_at_ns = absl::ToUnixNanos(absl::Now());
    ModuleView view;
    view.module = module_;
    view.state = ModuleState::kPrim;
    view.data = DataState::kUpToDate;
    view.sync_percent = 100;
    view.term = 1;
    view.owner = kSelf;
    hb.modules.push_back(view);
    const std::vector<uint8_t> frame = wire::EncodePeer(hb);
    for (auto& link : heartbeat_links_) link->Send(frame);
    heartbeat_timer_.expires_after(absl::ToChronoMilliseconds(config_.heartbeat.interval));
    heartbeat_timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) SendHeartbeat();
    });
  }

  void OnFrame(std::span<const uint8_t> head, Payload tail) {
    absl::StatusOr<ReplMessage> message = tail == nullptr
                                              ? wire::DecodeReplication(head)
                                              : wire::DecodeReplication(head, std::move(tail));
    if (!message.ok()) {
      Say(absl::StrCat("undecodable frame from the victim: ", message.status().message()));
      return;
    }
    std::visit(
        Overloaded{
            [&](const ReplHello& hello) { OnHello(hello); },
            [&](const ReplTargetZones& zones) {
              // An empty resync: nothing is sent, every request is counted as served.
              ++target_requests_;
              if (zones.last) {
                Send(ResyncDone{module_, victim_current_, target_requests_});
              }
            },
            [&](const ResyncDone&) {
              session_ready_ = true;
              Say("session ready: the victim is the secondary, up to date");
            },
            [&](const ReplAck& ack) { acked_done_ = std::max(acked_done_, ack.done_lsn); },
            [&](const ReplApplyOutcome& outcome) {
              if (!outcome.refused) return;
              refused_.insert(outcome.lsn);
              // "Refused here too": the copies stay equal, the victim acknowledges.
              Send(ReplApplyOutcome{module_, outcome.lsn, /*refused=*/true});
            },
            [&](const auto& other) { Say(absl::StrCat("ignored: ", DescribeReplMessage(other))); },
        },
        *message);
  }

  // Answers the victim's Hello with its own facts, as the primary: the same generations and
  // history, so the decision is "in sync", this side the source, nothing to send.
  void OnHello(const ReplHello& hello) {
    if (hello.answers != 0) return;  // we never send an unsolicited Hello
    Say(absl::StrCat("victim's Hello: current ", hello.gens.current, " joined ", hello.joined,
                     " inconsistent ", hello.inconsistent, " epoch ", hello.epoch));
    ReplHello mine = hello;
    mine.primary = true;
    mine.crashed = false;
    mine.dirty = false;
    mine.disk_failed = false;
    mine.alone_acked = false;
    mine.discard = false;
    mine.epoch = ++hello_epoch_;
    mine.answers = hello.epoch;
    mine.stream_start = next_lsn_;
    victim_current_ = hello.gens.current;
    target_requests_ = 0;
    session_ready_ = false;
    Send(mine);
  }

  boost::asio::io_context& io_;
  Config config_;
  net::ClusterKey key_;
  std::string module_;
  net::DatagramAuth auth_;
  boost::asio::steady_timer heartbeat_timer_;
  std::vector<std::unique_ptr<net::UdpLink>> heartbeat_links_;
  std::unique_ptr<net::ReplicationLink> replication_;
  uint64_t heartbeat_seq_ = 0;
  bool session_ready_ = false;
  uint64_t disconnects_ = 0;
  uint64_t hello_epoch_ = 0;
  uint64_t victim_current_ = 0;
  uint64_t target_requests_ = 0;
  uint64_t next_lsn_ = 1;
  uint64_t acked_done_ = 0;
  std::set<uint64_t> refused_;
};

// Steps the victim's store or daemon must refuse after applying them, in one session.
std::vector<Step> SessionSteps(const std::string& outside_dir, const std::string& canary) {
  return {
      {"plain-write", Write("0/inside.txt", "forged but inside")},
      {"symlink-to-outside-dir", Make(MutationKind::kSymlink, "0/esc_dir", outside_dir)},
      {"symlink-to-canary", Make(MutationKind::kSymlink, "0/esc_file", canary)},
      {"write-through-symlink-dir", Write("0/esc_dir/pwned", "pwned")},
      {"create-through-symlink-dir", Make(MutationKind::kCreate, "0/esc_dir/created")},
      {"mkdir-through-symlink-dir", Make(MutationKind::kMkdir, "0/esc_dir/newdir")},
      {"unlink-through-symlink-dir", Make(MutationKind::kUnlink, "0/esc_dir/victim")},
      {"write-to-symlink-to-canary", Write("0/esc_file", "clobbered")},
      {"truncate-symlink-to-canary", Make(MutationKind::kTruncate, "0/esc_file")},
      {"rename-into-symlink-dir", Make(MutationKind::kRename, "0/inside.txt", "0/esc_dir/stolen")},
      {"link-into-symlink-dir", Make(MutationKind::kLink, "0/inside.txt", "0/esc_dir/hardlink")},
      {"write-beside-the-directories", Write("forged-beside", "beside")},
      {"write-to-unknown-directory", Write("7/forged", "unknown directory")},
      {"chmod-through-symlink-dir", Chmod("0/esc_dir/canary")},
      {"chmod-symlink-to-canary", Chmod("0/esc_file")},
      {"setxattr-through-symlink-dir", Setxattr("0/esc_dir/canary")},
      {"setxattr-symlink-to-canary", Setxattr("0/esc_file")},
      // Last: it removes the symlink itself (the last component is never followed), which the
      // steps above go through.
      {"remove-tree-symlink-to-outside-dir", Make(MutationKind::kRemoveTree, "0/esc_dir")},
  };
}

// Steps the decoder refuses (each resets the connection; a new session follows).
std::vector<Step> UndecodableSteps(const std::string& outside_dir) {
  return {
      {"dotdot-path", Write("../outside", "dotdot")},
      {"absolute-path", Write("/etc/duet-forged", "absolute")},
      {"absolute-path-outside-dir", Write(outside_dir + "/absolute", "absolute")},
      {"dotdot-inside-path", Write("0/a/../../x", "dotdot inside")},
      {"rename-to-dotdot", Make(MutationKind::kRename, "0/inside.txt", "../renamed")},
      {"link-to-absolute", Make(MutationKind::kLink, "0/inside.txt", outside_dir + "/linked")},
  };
}

int Main(int argc, char** argv) {
  std::string config_path, module, outside_dir, canary;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") config_path = argv[i + 1];
    if (flag == "--module") module = argv[i + 1];
    if (flag == "--outside-dir") outside_dir = argv[i + 1];
    if (flag == "--canary") canary = argv[i + 1];
  }
  if (config_path.empty() || module.empty() || outside_dir.empty() || canary.empty()) {
    std::fprintf(stderr,
                 "usage: duet-forged-peer --config FILE --module NAME --outside-dir DIR "
                 "--canary FILE\n");
    return 2;
  }
  absl::StatusOr<Config> config = daemon::LoadConfigFile(config_path);
  if (!config.ok()) {
    Say(absl::StrCat("FAILED: ", config.status().message()));
    return 1;
  }
  absl::StatusOr<net::ClusterKey> key = net::LoadClusterKey(config->key_file);
  if (!key.ok()) {
    Say(absl::StrCat("FAILED: ", key.status().message()));
    return 1;
  }
  boost::asio::io_context io;
  ForgedPeer peer(io, *std::move(config), *key, module);
  if (absl::Status s = peer.Open(); !s.ok()) {
    Say(absl::StrCat("FAILED: ", s.message()));
    return 1;
  }
  if (!peer.WaitForSession()) {
    Say("FAILED: the victim never attached as the secondary");
    return 1;
  }
  for (const Step& step : SessionSteps(outside_dir, canary)) peer.Run(step);
  for (const Step& step : UndecodableSteps(outside_dir)) {
    peer.Run(step);
    if (!peer.WaitForSession()) {
      Say(absl::StrCat("FAILED: no new session after ", step.name));
      return 1;
    }
  }
  peer.Run({"plain-write-after", Write("0/after.txt", "still replicating")});
  Say("DONE");
  bool stop = false;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { stop = true; });
  while (!stop) io.run_one();
  peer.Stop();
  return 0;
}

}  // namespace
}  // namespace duet::forged

int main(int argc, char** argv) { return duet::forged::Main(argc, argv); }
