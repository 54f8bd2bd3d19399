#include "adapters/daemon/admin_protocol.h"

#include <gtest/gtest.h>

namespace duet::daemon {
namespace {

TEST(AdminProtocolTest, EveryRequestDuetctlSendsParsesBackToItself) {
  std::vector<AdminRequest> requests = {{AdminRequestKind::kStatus, {}, "", false},
                                        {AdminRequestKind::kStatusJson, {}, "", false},
                                        {AdminRequestKind::kVerb, AdminVerb::kPrim, "web", true}};
  for (AdminVerb verb : {AdminVerb::kStart, AdminVerb::kStop, AdminVerb::kSwap, AdminVerb::kPrim,
                         AdminVerb::kSecond, AdminVerb::kRestart, AdminVerb::kDiscard}) {
    requests.push_back({AdminRequestKind::kVerb, verb, "db", false});
  }
  for (const AdminRequest& r : requests) {
    absl::StatusOr<AdminRequest> back = ParseAdminRequest(FormatAdminRequest(r));
    ASSERT_TRUE(back.ok()) << FormatAdminRequest(r) << back.status();
    EXPECT_EQ(back->kind, r.kind);
    EXPECT_EQ(back->verb, r.verb);
    EXPECT_EQ(back->module, r.module);
    EXPECT_EQ(back->force, r.force);
  }
}

TEST(AdminProtocolTest, MalformedRequestsAreRefusedSayingWhatIsWrong) {
  struct Case {
    std::string line;
    std::string says;
  } cases[] = {{"", "empty request"},
               {"fly web\n", "unknown verb 'fly'"},
               {"prim\n", "prim needs a module"},
               {"stop web --force\n", "unexpected '--force'"},
               {"status --yaml\n", "status takes only --json"},
               {std::string(5000, 'x'), "longer than 4096"}};
  for (const Case& c : cases) {
    absl::StatusOr<AdminRequest> r = ParseAdminRequest(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status();
  }
}

TEST(AdminProtocolTest, RepliesCarryTheVerdictAndTheBody) {
  absl::StatusOr<AdminReplyText> ok = ParseAdminReply(FormatAdminReply(absl::OkStatus(), "a\nb\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->status.ok());
  EXPECT_EQ(ok->body, "a\nb\n");

  absl::StatusOr<AdminReplyText> refused = ParseAdminReply(
      FormatAdminReply(absl::FailedPreconditionError("peer not up to date;\nuse --force"), ""));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused->status.message(), "peer not up to date; use --force");

  EXPECT_FALSE(ParseAdminReply("").ok());
  EXPECT_FALSE(ParseAdminReply("maybe\n").ok());
}

}  // namespace
}  // namespace duet::daemon
