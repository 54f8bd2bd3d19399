#include "sim/scenario.h"

#include <gtest/gtest.h>

#include <sstream>

namespace duet::sim {
namespace {

TEST(ScenarioTest, ScenarioActiveActiveFailsOverAndBack) {
  std::ostringstream out;
  EXPECT_TRUE(RunActiveActiveScenario(out)) << out.str();
  const std::string text = out.str();
  for (const char* line :
       {"[00:05.000]    a crashes", "b  m0: taking over (peer lost)", "b  m0: SECOND -> ALONE",
        "a is back", "a  m0: data syncing -> up to date",
        "b  m0: failback:", "a  m0: SECOND -> PRIM", "PASS: m0 failed over to b"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing \"" << line << "\" in\n" << text;
  }
  EXPECT_EQ(text.find("CHECK FAILED"), std::string::npos) << text;
}

TEST(ScenarioTest, UnknownScenarioIsRefused) {
  std::ostringstream out;
  EXPECT_FALSE(RunScenario("no-such-thing", out));
  EXPECT_NE(out.str().find("known: active-active"), std::string::npos);
}

}  // namespace
}  // namespace duet::sim
