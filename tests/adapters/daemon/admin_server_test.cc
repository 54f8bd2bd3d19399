#include "adapters/daemon/admin_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "adapters/daemon/admin_client.h"
#include "boost/asio/executor_work_guard.hpp"

namespace duet::daemon {
namespace {

// An admin server on its own event-loop thread, in a fresh temporary directory.
class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/duet-admin-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    path_ = dir_ + "/run/duetd.sock";
  }
  void TearDown() override {
    io_.stop();
    if (loop_.joinable()) loop_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  absl::Status Start(AdminServer::Handler handler, AdminServer::Gone on_gone = nullptr,
                     absl::Duration request_timeout = absl::Seconds(10)) {
    server_ =
        std::make_unique<AdminServer>(io_, std::move(handler), std::move(on_gone), request_timeout);
    std::promise<absl::Status> listening;
    loop_ = std::thread([&] {
      listening.set_value(server_->Listen(path_));
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
    return listening.get_future().get();
  }

  std::string dir_, path_;
  boost::asio::io_context io_;
  std::unique_ptr<AdminServer> server_;
  std::thread loop_;
};

TEST_F(AdminServerTest, AVerbReachesTheHandlerAndItsLaterAnswerReachesTheClient) {
  AdminServer::Respond pending;
  std::promise<AdminRequest> seen;
  ASSERT_TRUE(Start([&](uint64_t, const AdminRequest& r, AdminServer::Respond respond) {
                pending = std::move(respond);
                seen.set_value(r);
              }).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the admin socket must be root-only";

  auto reply = std::async(std::launch::async, [&] {
    return SendAdminRequest(path_, {AdminRequestKind::kVerb, AdminVerb::kPrim, "web", true},
                            absl::Seconds(20));
  });
  AdminRequest r = seen.get_future().get();
  EXPECT_EQ(r.verb, AdminVerb::kPrim);
  EXPECT_EQ(r.module, "web");
  EXPECT_TRUE(r.force);
  boost::asio::post(io_, [&] {
    pending(FormatAdminReply(absl::FailedPreconditionError("peer holds newer data"), ""));
  });
  absl::StatusOr<AdminReplyText> got = reply.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got->status.message(), "peer holds newer data");
}

TEST_F(AdminServerTest, ABadRequestIsAnsweredWithTheErrorWithoutReachingTheHandler) {
  bool called = false;
  ASSERT_TRUE(Start([&](uint64_t, const AdminRequest&, AdminServer::Respond respond) {
                called = true;
                respond(FormatAdminReply(absl::OkStatus(), ""));
              }).ok());
  AdminRequest bad{AdminRequestKind::kVerb, AdminVerb::kStop, "web", true};  // stop --force
  absl::StatusOr<AdminReplyText> got = SendAdminRequest(path_, bad, absl::Seconds(20));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got->status.message().find("--force"), std::string::npos);
  EXPECT_FALSE(called);
}

TEST_F(AdminServerTest, ASecondDaemonOnTheSameSocketIsRefusedButAStaleSocketIsReplaced) {
  ASSERT_TRUE(Start([](uint64_t, const AdminRequest&, AdminServer::Respond respond) {
                respond(FormatAdminReply(absl::OkStatus(), "hi\n"));
              }).ok());
  boost::asio::io_context other_io;
  AdminServer second(
      other_io, [](uint64_t, const AdminRequest&, AdminServer::Respond) {}, nullptr);
  absl::Status status = second.Listen(path_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("another duetd"), std::string::npos) << status;
  // The first still answers.
  absl::StatusOr<AdminReplyText> got = SendAdminRequest(path_, {}, absl::Seconds(20));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->body, "hi\n");
}

// The open file descriptors of this process (the server's sockets among them).
size_t OpenFds() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

// A client that connects and, if given, sends `line`; -1 when it cannot connect.
int Connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes (10 s at most).
std::string ReadToEnd(int fd) {
  timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string all;
  char buffer[256];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) all.append(buffer, n);
  return all;
}

// As duetd does: a pending answer per request id, forgotten when its client is gone.
TEST_F(AdminServerTest, AClientThatHangsUpBeforeItsAnswerLeavesNothingBehind) {
  std::map<uint64_t, AdminServer::Respond> pending;  // touched on the loop thread only
  std::promise<uint64_t> asked, gone;
  ASSERT_TRUE(Start(
                  [&](uint64_t id, const AdminRequest&, AdminServer::Respond respond) {
                    pending[id] = std::move(respond);
                    asked.set_value(id);
                  },
                  [&](uint64_t id) {
                    pending.erase(id);
                    gone.set_value(id);
                  })
                  .ok());
  const size_t fds_before = OpenFds();

  int client = Connect(path_);  // `duetctl swap web`, then Ctrl-C before the answer
  ASSERT_GE(client, 0);
  const std::string request = "swap web\n";
  ASSERT_EQ(::write(client, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  const uint64_t id = asked.get_future().get();
  ::close(client);
  auto gone_id = gone.get_future();
  ASSERT_EQ(gone_id.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(gone_id.get(), id);

  // The engine's answer comes later: dropped, nothing written, nothing kept.
  std::promise<size_t> after;
  boost::asio::post(io_, [&] {
    if (auto it = pending.find(id); it != pending.end()) it->second("ok\n");
    after.set_value(pending.size());
  });
  EXPECT_EQ(after.get_future().get(), 0u);
  EXPECT_EQ(OpenFds(), fds_before) << "the server kept the connection's socket";
}

TEST_F(AdminServerTest, AClientThatSendsNoRequestIsAnsweredAndClosedAfterTheTimeLimit) {
  bool called = false;
  ASSERT_TRUE(Start([&](uint64_t, const AdminRequest&, AdminServer::Respond) { called = true; },
                    nullptr, absl::Milliseconds(200))
                  .ok());
  const size_t fds_before = OpenFds();
  int client = Connect(path_);
  ASSERT_GE(client, 0);
  const std::string reply = ReadToEnd(client);
  ::close(client);
  EXPECT_EQ(reply,
            FormatAdminReply(absl::DeadlineExceededError("no request line received in time"), ""));
  EXPECT_FALSE(called);
  // The server closes its end right after the reply's end.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (OpenFds() != fds_before && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(OpenFds(), fds_before) << "the server kept the connection's socket";
}

TEST(AdminClientTest, NoDaemonIsReportedAsUnavailableWithTheSocketPath) {
  absl::StatusOr<AdminReplyText> got =
      SendAdminRequest("/tmp/duet-no-such-socket.sock", {}, absl::Seconds(1));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("/tmp/duet-no-such-socket.sock"), std::string::npos);
}

}  // namespace
}  // namespace duet::daemon
