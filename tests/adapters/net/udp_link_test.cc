#include "adapters/net/udp_link.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "net_test_util.h"

// GCC 12 at -O3 warns that the std::string of a temporary UdpLinkOptions{...} "may be used
// uninitialized" in its inlined destructor: a false positive (every member is initialized);
// the Release build of the tests failed on it.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace duet::net {
namespace {

using boost::asio::ip::udp;

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }

struct Received {
  int link;
  std::string payload;
  bool is_reply;
};

std::unique_ptr<UdpLink> OpenLink(boost::asio::io_context& io, DatagramAuth& auth,
                                  UdpLinkOptions options, std::vector<Received>& into,
                                  LogLines* log = nullptr) {
  absl::StatusOr<std::unique_ptr<UdpLink>> link = UdpLink::Open(
      io, auth, std::move(options),
      [&into](int link_index, const OpenedDatagram& d, const udp::endpoint&) {
        into.push_back({link_index, std::string(d.payload.begin(), d.payload.end()), d.is_reply});
      },
      log != nullptr ? log->Sink() : NetLog());
  EXPECT_TRUE(link.ok()) << link.status();
  return link.ok() ? *std::move(link) : nullptr;
}

Endpoint At(const std::string& host, const udp::endpoint& bound) {
  return Endpoint{host, bound.port()};
}

TEST(UdpLink, TwoLinksDeliverWithTheirLinkIndex) {
  boost::asio::io_context io;
  DatagramAuth auth0(TestKey(), "prod", 0, 1);
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at0, at1;
  // Node 1 first, on free ports, so node 0 knows where to send.
  auto n1_link0 = OpenLink(io, auth1, {0, {"127.0.0.3", 0}, std::nullopt, 0, 0}, at1);
  auto n1_link1 = OpenLink(io, auth1, {1, {"127.0.0.5", 0}, std::nullopt, 0, 1}, at1);
  auto n0_link0 = OpenLink(
      io, auth0, {0, {"127.0.0.2", 0}, At("127.0.0.3", n1_link0->local_endpoint()), 1, 0}, at0);
  auto n0_link1 = OpenLink(
      io, auth0, {1, {"127.0.0.4", 0}, At("127.0.0.5", n1_link1->local_endpoint()), 1, 1}, at0);
  n0_link1->Send(Bytes("on link 1"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 1; }));
  n0_link0->Send(Bytes("on link 0"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 2; }));
  EXPECT_EQ(at1[0].link, 1);
  EXPECT_EQ(at1[0].payload, "on link 1");
  EXPECT_EQ(at1[1].link, 0);
  EXPECT_EQ(at1[1].payload, "on link 0");
  EXPECT_EQ(n1_link0->counters().TotalDrops(), 0u);
  EXPECT_EQ(n1_link1->counters().TotalDrops(), 0u);
}

// What waits on the socket is read in one burst and after_burst runs once after it: the
// witness makes a burst's anti-replay state durable with one save, not one per request.
TEST(UdpLink, DatagramsWaitingTogetherAreHandedOnInOneBurst) {
  boost::asio::io_context io;
  DatagramAuth auth0(TestKey(), "prod", 0, 1);
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at1;
  std::vector<size_t> burst_ends;  // how many had arrived at each after_burst
  auto link = OpenLink(io, auth1, {0, {"127.0.0.3", 0}, std::nullopt, 0, 0}, at1);
  link->SetAfterBurst([&] { burst_ends.push_back(at1.size()); });
  udp::socket sender(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.2"), 0));
  for (int i = 0; i < 10; ++i) {
    std::vector<uint8_t> sealed = *auth0.Seal(1, 0, Bytes("request " + std::to_string(i)));
    sender.send_to(boost::asio::buffer(sealed), link->local_endpoint());
  }
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 10; }));
  EXPECT_EQ(burst_ends, std::vector<size_t>{10});
  EXPECT_EQ(at1.back().payload, "request 9");
}

TEST(UdpLink, ReplayedDatagramIsDroppedCountedAndLogged) {
  boost::asio::io_context io;
  DatagramAuth auth0(TestKey(), "prod", 0, 1);
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at1;
  LogLines log;
  auto link = OpenLink(io, auth1, {0, {"127.0.0.3", 0}, std::nullopt, 0, 0}, at1, &log);
  udp::socket attacker(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.6"), 0));
  std::vector<uint8_t> captured = *auth0.Seal(1, 0, Bytes("heartbeat"));
  attacker.send_to(boost::asio::buffer(captured), link->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 1; }));
  attacker.send_to(boost::asio::buffer(captured), link->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return link->counters().replayed == 1; }));
  std::vector<uint8_t> forged = *auth0.Seal(1, 0, Bytes("heartbeat"));
  forged.back() ^= 1;
  attacker.send_to(boost::asio::buffer(forged), link->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return link->counters().bad_tag == 1; }));
  EXPECT_EQ(at1.size(), 1u);
  EXPECT_TRUE(log.Contains("dropped (replayed)"));
  EXPECT_TRUE(log.Contains("dropped (bad tag)"));
}

TEST(UdpLink, DatagramOfAStaleEpochIsDropped) {
  boost::asio::io_context io;
  DatagramAuth old_run(TestKey(), "prod", 0, 10);
  DatagramAuth new_run(TestKey(), "prod", 0, 11);
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at1;
  auto link = OpenLink(io, auth1, {0, {"127.0.0.3", 0}, std::nullopt, 0, 0}, at1);
  udp::socket sender(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.2"), 0));
  std::vector<uint8_t> from_old_run = *old_run.Seal(1, 0, Bytes("old"));
  sender.send_to(boost::asio::buffer(*new_run.Seal(1, 0, Bytes("new"))), link->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 1; }));
  sender.send_to(boost::asio::buffer(from_old_run), link->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return link->counters().stale_epoch == 1; }));
  EXPECT_EQ(at1.size(), 1u);
}

// A replaced machine comes back on the same address with its state wiped: its new run is heard
// one exchange after it starts (not once its seqs pass the old run's), and the old run's
// datagrams replayed after that are dropped and counted.
TEST(UdpLink, AWipedPeersNewRunIsHeardAtOnceAndItsOldRunsReplaysAreCounted) {
  boost::asio::io_context io;
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at0, at1;
  auto n1 = OpenLink(io, auth1, {0, {"127.0.0.3", 0}, std::nullopt, 0, 0}, at1);
  auto old_auth0 = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, 1);
  auto n0 = OpenLink(io, *old_auth0,
                     {0, {"127.0.0.2", 0}, At("127.0.0.3", n1->local_endpoint()), 1, 0}, at0);
  const Endpoint node0_at = At("127.0.0.2", n0->local_endpoint());
  const uint16_t node1_port = n1->local_endpoint().port();
  n1.reset();  // reopened on its port, now sending to node 0
  n1 = OpenLink(io, auth1, {0, {"127.0.0.3", node1_port}, node0_at, 0, 0}, at1);
  constexpr size_t kOldRun = 40;
  for (size_t i = 0; i < kOldRun; ++i) {
    n0->Send(Bytes("old run"));
    n1->Send(Bytes("hb"));
    ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == i + 1 && at0.size() == i + 1; }));
  }
  std::vector<uint8_t> recorded = *old_auth0->Seal(1, 0, Bytes("recorded"));
  n0.reset();
  old_auth0.reset();

  DatagramAuth new_auth0(TestKey(), "prod", 0, 1);
  at0.clear();
  at1.clear();
  n0 =
      OpenLink(io, new_auth0,
               {0, {"127.0.0.2", node0_at.port}, At("127.0.0.3", n1->local_endpoint()), 1, 0}, at0);
  n1->Send(Bytes("hb"));  // node 1 heartbeats on, whatever it hears
  ASSERT_TRUE(RunUntil(io, [&] { return at0.size() == 1; }));
  n0->Send(Bytes("new run"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 1; }));
  EXPECT_EQ(at1[0].payload, "new run");
  EXPECT_EQ(n1->counters().replayed, 0u);

  udp::socket attacker(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.6"), 0));
  attacker.send_to(boost::asio::buffer(recorded), n1->local_endpoint());
  ASSERT_TRUE(RunUntil(io, [&] { return n1->counters().stale_epoch == 1; }));
  n0->Send(Bytes("new run 2"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 2; }));
  EXPECT_EQ(at1[1].payload, "new run 2");
}

TEST(UdpLink, WitnessAnswersANodesRequestAndTheNodeAcceptsTheReply) {
  boost::asio::io_context io;
  DatagramAuth node_auth(TestKey(), "prod", 0, 3);
  DatagramAuth witness_auth(TestKey(), "prod", kWitnessId, 0);
  std::vector<Received> at_node, at_witness;
  std::unique_ptr<UdpLink> witness;
  absl::StatusOr<std::unique_ptr<UdpLink>> opened = UdpLink::Open(
      io, witness_auth, {0, {"127.0.0.4", 0}, std::nullopt, 0, kWitnessChannel},
      [&](int, const OpenedDatagram& d, const udp::endpoint& from) {
        at_witness.push_back({0, std::string(d.payload.begin(), d.payload.end()), d.is_reply});
        witness->Reply(d, from, Bytes("granted"));
      },
      NetLog());
  ASSERT_TRUE(opened.ok()) << opened.status();
  witness = *std::move(opened);
  auto node = OpenLink(io, node_auth,
                       {0,
                        {"127.0.0.2", 0},
                        At("127.0.0.4", witness->local_endpoint()),
                        kWitnessId,
                        kWitnessChannel},
                       at_node);
  node->SendRequest(Bytes("lease?"));
  ASSERT_TRUE(RunUntil(io, [&] { return at_node.size() == 1; }));
  EXPECT_EQ(at_witness[0].payload, "lease?");
  EXPECT_EQ(at_node[0].payload, "granted");
  EXPECT_TRUE(at_node[0].is_reply);
}

TEST(UdpLink, WitnessAnswersANodeWhoseStateWasWipedAfterOneChallenge) {
  boost::asio::io_context io;
  DatagramAuth witness_auth(TestKey(), "prod", kWitnessId, 0);
  std::vector<Received> at_witness;
  std::unique_ptr<UdpLink> witness;
  absl::StatusOr<std::unique_ptr<UdpLink>> opened = UdpLink::Open(
      io, witness_auth, {0, {"127.0.0.4", 0}, std::nullopt, 0, kWitnessChannel},
      [&](int, const OpenedDatagram& d, const udp::endpoint& from) {
        at_witness.push_back({0, std::string(d.payload.begin(), d.payload.end()), d.is_reply});
        witness->Reply(d, from, Bytes("granted"));
      },
      NetLog());
  ASSERT_TRUE(opened.ok()) << opened.status();
  witness = *std::move(opened);
  const UdpLinkOptions to_witness{
      0, {"127.0.0.2", 0}, At("127.0.0.4", witness->local_endpoint()), kWitnessId, kWitnessChannel};
  {
    DatagramAuth old_run(TestKey(), "prod", 0, /*epoch=*/6);
    std::vector<Received> at_node;
    auto node = OpenLink(io, old_run, to_witness, at_node);
    node->SendRequest(Bytes("lease?"));
    ASSERT_TRUE(RunUntil(io, [&] { return at_node.size() == 1; }));
  }
  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);  // state wiped
  std::vector<Received> at_node;
  auto node = OpenLink(io, new_run, to_witness, at_node);
  node->SendRequest(Bytes("lease?"));
  ASSERT_TRUE(RunUntil(io, [&] { return node->counters().challenged == 1; }));
  EXPECT_EQ(witness->counters().stale_epoch, 1u);
  node->SendRequest(Bytes("lease?"));
  ASSERT_TRUE(RunUntil(io, [&] { return at_node.size() == 1; }));
  EXPECT_EQ(at_node[0].payload, "granted");
  EXPECT_EQ(at_witness.size(), 2u);
}

TEST(UdpLink, WitnessServesSeveralClustersEachUnderItsOwnKey) {
  boost::asio::io_context io;
  DatagramAuth witness_prod(TestKey(1), "prod", kWitnessId, 0);
  DatagramAuth witness_staging(TestKey(2), "staging", kWitnessId, 0);
  std::vector<Received> at_witness;
  std::unique_ptr<UdpLink> witness;
  absl::StatusOr<std::unique_ptr<UdpLink>> opened = UdpLink::OpenForClusters(
      io,
      [&](const ClusterId& cluster) -> DatagramAuth* {
        if (cluster == witness_prod.cluster_id()) return &witness_prod;
        if (cluster == witness_staging.cluster_id()) return &witness_staging;
        return nullptr;
      },
      {0, {"127.0.0.4", 0}, std::nullopt, 0, kWitnessChannel},
      [&](int, const OpenedDatagram& d, const udp::endpoint& from) {
        at_witness.push_back({0, std::string(d.payload.begin(), d.payload.end()), d.is_reply});
        witness->Reply(d, from, d.payload);  // echoes the request
      },
      NetLog());
  ASSERT_TRUE(opened.ok()) << opened.status();
  witness = *std::move(opened);
  Endpoint witness_at = At("127.0.0.4", witness->local_endpoint());
  DatagramAuth prod_node(TestKey(1), "prod", 0, 1);
  DatagramAuth staging_node(TestKey(2), "staging", 0, 1);
  DatagramAuth unknown_node(TestKey(3), "test", 0, 1);
  std::vector<Received> at_prod, at_staging, at_unknown;
  UdpLinkOptions to_witness{0, {"127.0.0.2", 0}, witness_at, kWitnessId, kWitnessChannel};
  auto prod = OpenLink(io, prod_node, to_witness, at_prod);
  auto staging = OpenLink(io, staging_node, to_witness, at_staging);
  auto unknown = OpenLink(io, unknown_node, to_witness, at_unknown);
  prod->SendRequest(Bytes("prod lease?"));
  staging->SendRequest(Bytes("staging lease?"));
  unknown->SendRequest(Bytes("test lease?"));
  ASSERT_TRUE(RunUntil(io, [&] {
    return at_prod.size() == 1 && at_staging.size() == 1 && witness->counters().wrong_cluster == 1;
  }));
  EXPECT_EQ(at_prod[0].payload, "prod lease?");
  EXPECT_EQ(at_staging[0].payload, "staging lease?");
  EXPECT_EQ(at_witness.size(), 2u);
  EXPECT_TRUE(at_unknown.empty());
}

TEST(UdpLink, WorksOverIpv6Loopback) {
  boost::asio::io_context io;
  DatagramAuth auth0(TestKey(), "prod", 0, 1);
  DatagramAuth auth1(TestKey(), "prod", 1, 1);
  std::vector<Received> at0, at1;
  auto n1 = OpenLink(io, auth1, {0, {"::1", 0}, std::nullopt, 0, 0}, at1);
  auto n0 = OpenLink(io, auth0, {0, {"::1", 0}, At("::1", n1->local_endpoint()), 1, 0}, at0);
  n0->Send(Bytes("v6"));
  ASSERT_TRUE(RunUntil(io, [&] { return at1.size() == 1; }));
  EXPECT_EQ(at1[0].payload, "v6");
}

TEST(UdpLink, UnresolvableEndpointIsAClearError) {
  boost::asio::io_context io;
  DatagramAuth auth(TestKey(), "prod", 0, 1);
  absl::StatusOr<std::unique_ptr<UdpLink>> link = UdpLink::Open(
      io, auth, {0, {"no-such-host.invalid", 7200}, std::nullopt, 1, 0},
      [](int, const OpenedDatagram&, const udp::endpoint&) {}, NetLog());
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.status().message().find("no-such-host.invalid:7200"), std::string::npos);
}

}  // namespace
}  // namespace duet::net
