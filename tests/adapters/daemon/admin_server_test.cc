#include "adapters/daemon/admin_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <future>
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
  absl::Status Start(AdminServer::Handler handler) {
    server_ = std::make_unique<AdminServer>(io_, std::move(handler));
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
  ASSERT_TRUE(Start([&](const AdminRequest& r, AdminServer::Respond respond) {
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
  ASSERT_TRUE(Start([&](const AdminRequest&, AdminServer::Respond respond) {
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
  ASSERT_TRUE(Start([](const AdminRequest&, AdminServer::Respond respond) {
                respond(FormatAdminReply(absl::OkStatus(), "hi\n"));
              }).ok());
  boost::asio::io_context other_io;
  AdminServer second(other_io, [](const AdminRequest&, AdminServer::Respond) {});
  absl::Status status = second.Listen(path_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("another duetd"), std::string::npos) << status;
  // The first still answers.
  absl::StatusOr<AdminReplyText> got = SendAdminRequest(path_, {}, absl::Seconds(20));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->body, "hi\n");
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
