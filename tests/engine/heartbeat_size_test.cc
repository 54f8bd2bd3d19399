// The largest heartbeat a valid pair can send fits one authenticated UDP datagram: the config's
// limits (engine/config.h), the wire's (engine/wire/codec.h) and the encoder agree.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/config.h"
#include "engine/config_parser.h"
#include "engine/messages.h"
#include "engine/node.h"
#include "engine/rng.h"
#include "engine/types.h"
#include "engine/wire/codec.h"

namespace duet::wire {
namespace {

// What the datagram authentication adds around a frame: a 64-byte header and a 32-byte tag
// (kDatagramOverheadBytes in adapters/net/datagram_auth.h; the engine does not include the
// adapters), and the largest UDP payload over IPv4 (kMaxUdpDatagramBytes there).
constexpr size_t kDatagramOverheadBytes = 96;
constexpr size_t kMaxUdpDatagramBytes = 65507;

TEST(HeartbeatSizeTest, HeartbeatLimitLeavesRoomForTheDatagramOverhead) {
  EXPECT_LE(kMaxHeartbeatBytes + kDatagramOverheadBytes, kMaxUdpDatagramBytes);
  EXPECT_GE(kMaxModules, 256u);
}

// `length` bytes, unique by `index`, of the characters a config name allows.
std::string NameOf(size_t index, size_t length) {
  std::string name = absl::StrCat("m", index, "-");
  name.resize(length, 'x');
  return name;
}

// Every field of `view` but its name set from the bits of `fields`: a non-default value where
// the bit is 1 (the encoder writes it), the default where it is 0 (the encoder leaves it out).
// Views that set different fields cannot share a vtable, which costs the most bytes.
void SetFields(ModuleView& view, unsigned fields) {
  view.state = (fields & 1) != 0 ? ModuleState::kSecond : ModuleState::kWait;
  view.data = (fields & 2) != 0 ? DataState::kUpToDate : DataState::kUnknown;
  view.sync_percent = (fields & 4) != 0 ? 100 : 0;
  view.term = (fields & 8) != 0 ? std::numeric_limits<uint64_t>::max() : 0;
  view.owner = (fields & 16) != 0 ? 1 : 0;
  view.eligible = (fields & 32) != 0;
  view.pinned = (fields & 64) != 0;
  view.writing_alone = (fields & 128) != 0;
  view.app_failed = (fields & 256) != 0;
}

// A heartbeat whose own fields are all set to their widest values.
Heartbeat WidestHeader() {
  Heartbeat heartbeat;
  heartbeat.from = 1;
  heartbeat.incarnation = std::numeric_limits<uint64_t>::max();
  heartbeat.seq = std::numeric_limits<uint64_t>::max();
  heartbeat.sent_at_ns = std::numeric_limits<int64_t>::max();
  heartbeat.echo_sent_at_ns = std::numeric_limits<int64_t>::max();
  return heartbeat;
}

// The bound codec.h derives for `heartbeat` from its modules' name lengths.
size_t BoundOf(const Heartbeat& heartbeat) {
  size_t bound = kMaxHeartbeatFixedBytes;
  for (const ModuleView& view : heartbeat.modules) {
    bound += MaxHeartbeatModuleBytes(view.module.size());
  }
  return bound;
}

void ExpectFitsAndDecodes(const Heartbeat& heartbeat) {
  const std::vector<uint8_t> frame = EncodePeer(heartbeat);
  EXPECT_LE(frame.size(), BoundOf(heartbeat));
  EXPECT_LE(frame.size(), kMaxHeartbeatBytes);
  const absl::StatusOr<PeerMessage> decoded = DecodePeer(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, PeerMessage(heartbeat));
}

TEST(HeartbeatSizeTest, HeartbeatWithoutModulesFitsTheFixedBound) {
  EXPECT_LE(EncodePeer(WidestHeader()).size(), kMaxHeartbeatFixedBytes);
  EXPECT_LE(EncodePeer(Heartbeat{}).size(), kMaxHeartbeatFixedBytes);
}

TEST(HeartbeatSizeTest, LargestHeartbeatTheWireAllowsFitsTheLimit) {
  // Every module at the wire's longest name; first all setting every field (one shared
  // vtable), then each setting a different set of fields (a vtable each).
  for (const bool same_fields : {true, false}) {
    SCOPED_TRACE(same_fields ? "same fields" : "different fields");
    Heartbeat heartbeat = WidestHeader();
    for (size_t i = 0; i < kMaxModules; ++i) {
      ModuleView& view = heartbeat.modules.emplace_back();
      view.module = NameOf(i, kMaxModuleNameBytes);
      SetFields(view, same_fields ? 0x1ff : static_cast<unsigned>(0x1ff - i % 512));
    }
    ExpectFitsAndDecodes(heartbeat);
  }
}

TEST(HeartbeatSizeTest, EncodedSizeNeverExceedsThePerModuleBound) {
  // Random name lengths (every padding case) and random sets of fields, checked against the
  // layout bound of codec.h, not only against the limit.
  Rng rng(20261206);
  for (int round = 0; round < 200; ++round) {
    SCOPED_TRACE(round);
    Heartbeat heartbeat = WidestHeader();
    const size_t modules = 1 + rng.Below(kMaxModules);
    for (size_t i = 0; i < modules; ++i) {
      ModuleView& view = heartbeat.modules.emplace_back();
      view.module =
          NameOf(i, static_cast<size_t>(rng.Between(8, static_cast<int64_t>(kMaxModuleNameBytes))));
      SetFields(view, static_cast<unsigned>(rng.Below(512)));
    }
    ExpectFitsAndDecodes(heartbeat);
  }
}

// A config at every limit a heartbeat depends on: the most modules, every name the longest.
std::string LargestConfigText() {
  std::string text = absl::StrCat("[cluster]\nname = \"", NameOf(0, kMaxNameBytes),
                                  "\"\nkey_file = \"/etc/duet/key\"\n");
  for (int node = 0; node < 2; ++node) {
    absl::StrAppend(&text, "[[node]]\nname = \"",
                    std::string(kMaxNameBytes, static_cast<char>('a' + node)),
                    "\"\nheartbeat = [\"10.0.0.", node + 1, ":7200\"]\nreplication = \"10.0.0.",
                    node + 1, ":7100\"\n");
  }
  for (size_t i = 0; i < kMaxModulesPerPair; ++i) {
    absl::StrAppend(&text, "[[module]]\nname = \"", NameOf(i, kMaxNameBytes),
                    "\"\ndefault_primary = \"",
                    std::string(kMaxNameBytes, static_cast<char>('a' + i % 2)),
                    "\"\ndirectories = [\"/srv/", i, "\"]\n");
  }
  return text;
}

TEST(HeartbeatSizeTest, LargestValidConfigsHeartbeatFitsOneDatagram) {
  const absl::StatusOr<Config> config = ParseConfig(LargestConfigText(), "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->modules.size(), kMaxModulesPerPair);

  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  Node node(*config, 1, 7, PersistedNode{}, now);
  const Actions actions = node.Start(now);
  const Heartbeat* sent = nullptr;
  for (const Action& action : actions) {
    if (const auto* send = std::get_if<SendPeer>(&action)) {
      sent = std::get_if<Heartbeat>(&send->message);
    }
    if (sent != nullptr) break;
  }
  ASSERT_NE(sent, nullptr) << "Start sent no heartbeat";
  ASSERT_EQ(sent->modules.size(), kMaxModulesPerPair);
  ExpectFitsAndDecodes(*sent);

  // The same heartbeat later in the pair's life, every value at its widest.
  Heartbeat widest = WidestHeader();
  widest.modules = sent->modules;
  for (size_t i = 0; i < widest.modules.size(); ++i) {
    SetFields(widest.modules[i], static_cast<unsigned>(0x1ff - i % 512));
  }
  ExpectFitsAndDecodes(widest);
  EXPECT_LE(EncodePeer(widest).size() + kDatagramOverheadBytes, kMaxUdpDatagramBytes);
}

}  // namespace
}  // namespace duet::wire
