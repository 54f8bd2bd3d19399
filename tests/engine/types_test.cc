// engine/types.h: the names operators see. Module states are spelled as DESIGN.md §3 spells
// them (status, logs), script kinds are the file names looked up in a module's scripts_dir
// (DESIGN.md §7), admin verbs the words duetctl takes (adapters/daemon/admin_protocol.cc
// parses a word by comparing it with AdminVerbName).
#include "engine/types.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "engine/inputs.h"

namespace duet {
namespace {

TEST(TypesTest, PeerOfEachNodeIsTheOther) {
  EXPECT_EQ(Peer(0), 1);
  EXPECT_EQ(Peer(1), 0);
  EXPECT_EQ(Peer(Peer(0)), 0);
}

TEST(TypesTest, ModuleStatesAreSpelledAsOperatorsKnowThem) {
  EXPECT_STREQ(ModuleStateName(ModuleState::kStop), "STOP");
  EXPECT_STREQ(ModuleStateName(ModuleState::kWait), "WAIT");
  EXPECT_STREQ(ModuleStateName(ModuleState::kAlone), "ALONE");
  EXPECT_STREQ(ModuleStateName(ModuleState::kPrim), "PRIM");
  EXPECT_STREQ(ModuleStateName(ModuleState::kSecond), "SECOND");
}

TEST(TypesTest, DataStatesReadAsPlainWords) {
  EXPECT_STREQ(DataStateName(DataState::kUnknown), "unknown");
  EXPECT_STREQ(DataStateName(DataState::kOutdated), "outdated");
  EXPECT_STREQ(DataStateName(DataState::kSyncing), "syncing");
  EXPECT_STREQ(DataStateName(DataState::kUpToDate), "up to date");
}

TEST(TypesTest, ScriptKindsAreTheScriptFileNames) {
  EXPECT_STREQ(ScriptKindName(ScriptKind::kPrestart), "prestart");
  EXPECT_STREQ(ScriptKindName(ScriptKind::kStartPrim), "start_prim");
  EXPECT_STREQ(ScriptKindName(ScriptKind::kStopPrim), "stop_prim");
  EXPECT_STREQ(ScriptKindName(ScriptKind::kStartSecond), "start_second");
  EXPECT_STREQ(ScriptKindName(ScriptKind::kStopSecond), "stop_second");
  EXPECT_STREQ(ScriptKindName(ScriptKind::kPoststop), "poststop");
}

TEST(TypesTest, AdminVerbsAreTheWordsDuetctlTakes) {
  EXPECT_STREQ(AdminVerbName(AdminVerb::kStart), "start");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kStop), "stop");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kSwap), "swap");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kPrim), "prim");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kSecond), "second");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kRestart), "restart");
  EXPECT_STREQ(AdminVerbName(AdminVerb::kDiscard), "discard");
}

// A word names one value only: duetctl maps a word back to the first verb spelled so, and a
// script file serves one transition.
TEST(TypesTest, EveryValueOfAnEnumHasItsOwnName) {
  std::set<std::string> states, scripts, verbs;
  for (int v = 0; v <= static_cast<int>(ModuleState::kSecond); ++v) {
    states.insert(ModuleStateName(static_cast<ModuleState>(v)));
  }
  for (int v = 0; v <= static_cast<int>(ScriptKind::kPoststop); ++v) {
    scripts.insert(ScriptKindName(static_cast<ScriptKind>(v)));
  }
  for (int v = 0; v <= static_cast<int>(AdminVerb::kDiscard); ++v) {
    verbs.insert(AdminVerbName(static_cast<AdminVerb>(v)));
  }
  EXPECT_EQ(states.size(), 5u);
  EXPECT_EQ(scripts.size(), 6u);
  EXPECT_EQ(verbs.size(), 7u);
  EXPECT_FALSE(states.contains("?"));
  EXPECT_FALSE(scripts.contains("?"));
  EXPECT_FALSE(verbs.contains("?"));
}

// A value no enumerator names (a corrupt record, a newer peer) prints as "?", never as a
// neighbour's name and never as a crash.
TEST(TypesTest, AValueWithoutAnEnumeratorIsShownAsAQuestionMark) {
  EXPECT_STREQ(ModuleStateName(static_cast<ModuleState>(200)), "?");
  EXPECT_STREQ(DataStateName(static_cast<DataState>(200)), "?");
  EXPECT_STREQ(ScriptKindName(static_cast<ScriptKind>(200)), "?");
  EXPECT_STREQ(AdminVerbName(static_cast<AdminVerb>(200)), "?");
}

}  // namespace
}  // namespace duet
