// Over 600 lines on purpose: every table and key of duet.toml with its rule, next to the
// value parsers and the cross-table checks (unique names, VIPs, overlapping directories)
// that read them, so one file says all a valid configuration is (config_parser.h).
#include "engine/config_parser.h"

#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "engine/status_macros.h"
#include "toml++/toml.h"

namespace duet {
namespace {

// Known keys of each table; anything else is an error (most often a typo).
using Keys = std::span<const absl::string_view>;
constexpr absl::string_view kTopKeys[] = {"cluster",     "node",    "heartbeat",
                                          "replication", "witness", "module"};
constexpr absl::string_view kClusterKeys[] = {"name", "key_file", "state_dir"};
constexpr absl::string_view kNodeKeys[] = {"name", "heartbeat", "replication", "admin_socket",
                                           "state_dir"};
constexpr absl::string_view kHeartbeatKeys[] = {"interval", "timeout"};
constexpr absl::string_view kReplicationKeys[] = {"timeout", "window_bytes", "window_count",
                                                  "resync_bandwidth"};
constexpr absl::string_view kWitnessKeys[] = {"address", "lease", "renew_interval", "drift_margin"};
constexpr absl::string_view kModuleKeys[] = {
    "name",           "default_primary", "vips",     "directories", "scripts",
    "script_timeout", "failover",        "failback", "ack",         "zone_size",
    "split_brain",    "restart",         "checker"};
constexpr absl::string_view kVipKeys[] = {"address", "interface"};
constexpr absl::string_view kRestartKeys[] = {"max", "window"};
constexpr absl::string_view kCheckerKeys[] = {"name",     "type",    "target",
                                              "interval", "timeout", "on_failure"};

// Debian's Abseil has its own absl::string_view, distinct from std::string_view (which toml++
// and the public interface use).
absl::string_view AsAbsl(std::string_view text) { return {text.data(), text.size()}; }

template <typename E>
struct EnumName {
  absl::string_view name;
  E value;
};
constexpr EnumName<Failback> kFailbackNames[] = {{"auto", Failback::kAuto},
                                                 {"manual", Failback::kManual}};
constexpr EnumName<AckMode> kAckNames[] = {{"received", AckMode::kReceived},
                                           {"applied", AckMode::kApplied},
                                           {"durable", AckMode::kDurable}};
constexpr EnumName<SplitBrainPolicy> kSplitBrainNames[] = {
    {"discard-non-default", SplitBrainPolicy::kDiscardNonDefault},
    {"discard-least-changes", SplitBrainPolicy::kDiscardLeastChanges},
    {"manual", SplitBrainPolicy::kManual}};
constexpr EnumName<CheckerType> kCheckerTypeNames[] = {{"process", CheckerType::kProcess},
                                                       {"tcp", CheckerType::kTcp},
                                                       {"interface", CheckerType::kInterface},
                                                       {"custom", CheckerType::kCustom}};
constexpr EnumName<OnFailure> kOnFailureNames[] = {{"restart", OnFailure::kRestart},
                                                   {"failover", OnFailure::kFailover}};

enum class Need { kOptional, kRequired };

// The "file:line: message" error that ParseConfig returns for everything.
absl::Status ErrorAt(absl::string_view file, const toml::source_region& where,
                     absl::string_view message) {
  uint64_t line = where.begin.line;
  if (line == 0) line = 1;
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", message));
}

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

bool AllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Parsers of single values. Their errors carry only the problem; Section adds where it is.

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad duration \"", text, "\" (write e.g. \"200ms\", \"2s\", \"1m\" or \"1h30m\")"));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration \"", text, "\" must be more than zero"));
  }
  return d;
}

// "4096", "64KiB", "1MiB" (optionally "/s" for a rate): binary units only, no fractions.
absl::StatusOr<uint64_t> ParseSizeText(absl::string_view text, bool per_second) {
  struct Unit {
    absl::string_view name;
    uint64_t bytes;
  };
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"B", 1},
                                    {"KiB", 1ull << 10},
                                    {"MiB", 1ull << 20},
                                    {"GiB", 1ull << 30},
                                    {"TiB", 1ull << 40}};
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (per_second) absl::ConsumeSuffix(&rest, "/s");
  size_t digits = 0;
  while (digits < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
    ++digits;
  }
  absl::string_view unit = absl::StripLeadingAsciiWhitespace(rest.substr(digits));
  uint64_t number = 0;
  const Unit* found = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit) found = &u;
  }
  if (digits == 0 || found == nullptr || !absl::SimpleAtoi(rest.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size \"", text,
                     "\" (write bytes or a binary unit: \"4096\", \"64KiB\", \"1MiB\", \"1GiB\")"));
  }
  if (number > std::numeric_limits<uint64_t>::max() / found->bytes) {
    return absl::InvalidArgumentError(absl::StrCat("size \"", text, "\" is too large"));
  }
  return number * found->bytes;
}

// "host:port", with an IPv6 host in brackets: "[fd00::1]:7200".
absl::StatusOr<Endpoint> ParseEndpointText(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad endpoint \"", text, "\": ", why, " (write \"host:port\", e.g. \"10.0.0.1:7200\")"));
  };
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    size_t close = text.find(']');
    if (close == absl::string_view::npos || text.substr(close + 1, 1) != ":") {
      return bad("expected \"[address]:port\"");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (absl::StrContains(host, ':')) return bad("an IPv6 address must be in brackets");
  }
  if (host.empty()) return bad("no host");
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != ':' && c != '%') {
      return bad("bad character in host");
    }
  }
  uint32_t number = 0;
  if (!AllDigits(port) || !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
    return bad("port must be a number from 1 to 65535");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(number)};
}

// Cluster, node, module and checker names: they appear in logs, status, file names and
// heartbeats, whose size (engine/wire/codec.h) counts on the length limit.
absl::Status CheckName(absl::string_view text) {
  if (text.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name of ", text.size(), " bytes is longer than the limit of ", kMaxNameBytes, " bytes"));
  }
  bool ok = !text.empty() && absl::ascii_isalnum(static_cast<unsigned char>(text[0]));
  for (char c : text) {
    ok = ok &&
         (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "bad name \"", text, "\" (letters, digits, '-', '_', '.'; starting with a letter or digit)"));
}

absl::Status CheckAbsolutePath(absl::string_view text) {
  if (!absl::StartsWith(text, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an absolute path"));
  }
  for (char c : text) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("a path must not contain control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInterfaceName(absl::string_view text) {
  bool ok = !text.empty() && text.size() <= 15;  // IFNAMSIZ - 1
  for (char c : text) ok = ok && absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != '/';
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("bad interface name \"", text, "\""));
}

// Checks "10.0.0.100/24" or "fd00::100/64"; returns the address part, lowercased, which is
// what must be unique across modules.
absl::StatusOr<std::string> ParseVipAddress(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad VIP address \"", text, "\": ", why, " (write e.g. \"10.0.0.100/24\")"));
  };
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return bad("no prefix length");
  absl::string_view ip = text.substr(0, slash);
  bool v6 = absl::StrContains(ip, ':');
  if (v6) {
    for (char c : ip) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return bad("not an IP address");
      }
    }
  } else {
    std::vector<absl::string_view> octets = absl::StrSplit(ip, '.');
    uint32_t value = 0;
    bool ok = octets.size() == 4;
    for (absl::string_view o : octets) {
      ok = ok && AllDigits(o) && o.size() <= 3 && (o.size() == 1 || o[0] != '0') &&
           absl::SimpleAtoi(o, &value) && value <= 255;
    }
    if (!ok) return bad("not an IP address");
  }
  uint32_t prefix = 0;
  absl::string_view prefix_text = text.substr(slash + 1);
  if (!AllDigits(prefix_text) || !absl::SimpleAtoi(prefix_text, &prefix) ||
      prefix > (v6 ? 128u : 32u)) {
    return bad("bad prefix length");
  }
  return absl::AsciiStrToLower(ip);
}

// Absolute, with "//" and "." removed and no trailing slash; ".." and "/" itself are refused.
absl::StatusOr<std::string> NormalizeDirectory(absl::string_view text) {
  DUET_RETURN_IF_ERROR(CheckAbsolutePath(text));
  std::string out;
  for (absl::string_view part : absl::StrSplit(text, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" must not contain \"..\""));
    }
    absl::StrAppend(&out, "/", part);
  }
  if (out.empty()) return absl::InvalidArgumentError("cannot replicate \"/\"");
  return out;
}

bool DirectoriesOverlap(absl::string_view a, absl::string_view b) {
  return a == b || absl::StartsWith(b, absl::StrCat(a, "/")) ||
         absl::StartsWith(a, absl::StrCat(b, "/"));
}

// One TOML table being read, with the words that place it in messages ("in module 'web'").
class Section {
 public:
  Section(absl::string_view file, const toml::table& table, std::string in)
      : file_(file), table_(&table), in_(std::move(in)) {}

  const std::string& in() const { return in_; }
  const toml::node* Find(absl::string_view key) const {
    return table_->get(std::string_view(key.data(), key.size()));
  }

  // "file:line: message" at `node`, or at the table itself when it is null.
  absl::Status Error(const toml::node* node, absl::string_view message) const {
    return ErrorAt(file_, node != nullptr ? node->source() : table_->source(), message);
  }
  // "file:line: 'key' in module 'web': problem".
  absl::Status BadValue(absl::string_view key, const toml::node& node,
                        absl::string_view problem) const {
    return Error(&node, absl::StrCat("'", key, "' ", in_, ": ", problem));
  }

  absl::Status CheckKeys(Keys known) const {
    for (const auto& [key, value] : *table_) {
      bool ok = false;
      for (absl::string_view k : known) ok = ok || k == AsAbsl(key.str());
      if (!ok) {
        return ErrorAt(file_, key.source(),
                       absl::StrCat("unknown key '", AsAbsl(key.str()), "' ", in_));
      }
    }
    return absl::OkStatus();
  }

  // The value at `key`, or null when it is absent and optional.
  absl::StatusOr<const toml::node*> Get(absl::string_view key, Need need) const {
    const toml::node* node = Find(key);
    if (node == nullptr && need == Need::kRequired) {
      return Error(nullptr, absl::StrCat("missing required key '", key, "' ", in_));
    }
    return node;
  }

  absl::StatusOr<std::string> StringOf(absl::string_view key, const toml::node& node) const {
    const auto* s = node.as_string();
    if (s == nullptr) {
      return BadValue(key, node, absl::StrCat("must be a string, not ", TypeName(node)));
    }
    if (s->get().empty()) return BadValue(key, node, "must not be empty");
    return s->get();
  }

  // Reads a string and checks it with `check` (one of the Check*/Parse* functions above).
  template <typename Check>
  absl::Status ReadString(absl::string_view key, std::string* out, Need need, Check check) const {
    DUET_ASSIGN_OR_RETURN(const toml::node* node, Get(key, need));
    if (node == nullptr) return absl::OkStatus();
    DUET_ASSIGN_OR_RETURN(std::string text, StringOf(key, *node));
    absl::Status status = check(text);
    if (!status.ok()) return BadValue(key, *node, status.message());
    *out = std::move(text);
    return absl::OkStatus();
  }
  absl::Status ReadString(absl::string_view key, std::string* out, Need need) const {
    return ReadString(key, out, need, [](absl::string_view) { return absl::OkStatus(); });
  }

  // Reads a string and converts it with `parse`, which returns absl::StatusOr<T>.
  template <typename T, typename Parse>
  absl::Status ReadParsed(absl::string_view key, T* out, Need need, Parse parse) const {
    DUET_ASSIGN_OR_RETURN(const toml::node* node, Get(key, need));
    if (node == nullptr) return absl::OkStatus();
    DUET_ASSIGN_OR_RETURN(std::string text, StringOf(key, *node));
    auto value = parse(text);
    if (!value.ok()) return BadValue(key, *node, value.status().message());
    *out = *std::move(value);
    return absl::OkStatus();
  }

  absl::Status ReadDuration(absl::string_view key, absl::Duration* out) const {
    const toml::node* node = Find(key);
    if (node != nullptr && !node->is_string()) {
      return BadValue(
          key, *node,
          absl::StrCat("must be a duration string such as \"2s\", not ", TypeName(*node)));
    }
    return ReadParsed(key, out, Need::kOptional, ParseDurationText);
  }

  absl::Status ReadEndpoint(absl::string_view key, Endpoint* out, Need need) const {
    return ReadParsed(key, out, need, ParseEndpointText);
  }

  // A size is an integer of bytes or a string with a unit; `per_second` also allows "/s".
  absl::Status ReadSize(absl::string_view key, uint64_t* out, bool per_second) const {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    if (const auto* i = node->as_integer()) {
      if (i->get() < 0) return BadValue(key, *node, "must not be negative");
      *out = static_cast<uint64_t>(i->get());
      return absl::OkStatus();
    }
    if (!node->is_string()) {
      return BadValue(key, *node,
                      absl::StrCat("must be a size such as \"64KiB\", not ", TypeName(*node)));
    }
    return ReadParsed(key, out, Need::kOptional,
                      [&](absl::string_view text) { return ParseSizeText(text, per_second); });
  }

  absl::Status ReadCount(absl::string_view key, uint32_t* out, uint32_t min) const {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    const auto* i = node->as_integer();
    if (i == nullptr) {
      return BadValue(key, *node, absl::StrCat("must be an integer, not ", TypeName(*node)));
    }
    if (i->get() < min || i->get() > std::numeric_limits<uint32_t>::max()) {
      return BadValue(
          key, *node,
          absl::StrCat("must be from ", min, " to ", std::numeric_limits<uint32_t>::max()));
    }
    *out = static_cast<uint32_t>(i->get());
    return absl::OkStatus();
  }

  absl::Status ReadBool(absl::string_view key, bool* out) const {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    const auto* b = node->as_boolean();
    if (b == nullptr) {
      return BadValue(key, *node, absl::StrCat("must be true or false, not ", TypeName(*node)));
    }
    *out = b->get();
    return absl::OkStatus();
  }

  template <typename E>
  absl::Status ReadEnum(absl::string_view key,
                        std::type_identity_t<std::span<const EnumName<E>>> names, E* out,
                        Need need) const {
    DUET_ASSIGN_OR_RETURN(const toml::node* node, Get(key, need));
    if (node == nullptr) return absl::OkStatus();
    DUET_ASSIGN_OR_RETURN(std::string text, StringOf(key, *node));
    std::vector<absl::string_view> all;
    for (const EnumName<E>& n : names) {
      if (n.name == text) {
        *out = n.value;
        return absl::OkStatus();
      }
      all.push_back(n.name);
    }
    return BadValue(key, *node,
                    absl::StrCat("unknown value \"", text, "\" (expected one of ",
                                 absl::StrJoin(all, ", "), ")"));
  }

  absl::StatusOr<const toml::table*> ReadTable(absl::string_view key, Need need) const {
    DUET_ASSIGN_OR_RETURN(const toml::node* node, Get(key, need));
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      return BadValue(key, *node, absl::StrCat("must be a table, not ", TypeName(*node)));
    }
    return node->as_table();
  }

  absl::StatusOr<const toml::array*> ReadArray(absl::string_view key, Need need) const {
    DUET_ASSIGN_OR_RETURN(const toml::node* node, Get(key, need));
    if (node == nullptr) return nullptr;
    if (!node->is_array()) {
      return BadValue(key, *node, absl::StrCat("must be an array, not ", TypeName(*node)));
    }
    return node->as_array();
  }

  // An array whose elements are all tables: [[key]] sections or [{...}, {...}].
  absl::StatusOr<std::vector<const toml::table*>> ReadTables(absl::string_view key,
                                                             Need need) const {
    std::vector<const toml::table*> tables;
    const toml::node* node = Find(key);
    if (node != nullptr && node->is_table()) {
      return BadValue(key, *node, "must be an array of tables (write [[...]] rather than [...])");
    }
    DUET_ASSIGN_OR_RETURN(const toml::array* array, ReadArray(key, need));
    if (array == nullptr) return tables;
    for (const toml::node& element : *array) {
      if (!element.is_table()) {
        return BadValue(key, element, absl::StrCat("must hold tables, not ", TypeName(element)));
      }
      tables.push_back(element.as_table());
    }
    return tables;
  }

 private:
  absl::string_view file_;
  const toml::table* table_;
  std::string in_;
};

class Parser {
 public:
  explicit Parser(absl::string_view file) : file_(file) {}

  absl::StatusOr<Config> Parse(const toml::table& root_table) {
    Section root(file_, root_table, "at top level");
    DUET_RETURN_IF_ERROR(root.CheckKeys(kTopKeys));
    DUET_RETURN_IF_ERROR(ParseCluster(root));
    DUET_RETURN_IF_ERROR(ParseNodes(root));
    DUET_RETURN_IF_ERROR(ParseHeartbeat(root));
    DUET_RETURN_IF_ERROR(ParseReplication(root));
    DUET_RETURN_IF_ERROR(ParseWitness(root));
    DUET_RETURN_IF_ERROR(ParseModules(root));
    return std::move(config_);
  }

 private:
  // A value that must be unique (VIP) or disjoint (directory) across all modules.
  struct Claim {
    std::string value;
    std::string module;
    const toml::node* node;
  };

  Section Open(const toml::table& table, std::string in) const {
    return Section(file_, table, std::move(in));
  }

  absl::Status ParseCluster(const Section& root) {
    DUET_ASSIGN_OR_RETURN(const toml::table* table, root.ReadTable("cluster", Need::kRequired));
    Section s = Open(*table, "in [cluster]");
    DUET_RETURN_IF_ERROR(s.CheckKeys(kClusterKeys));
    DUET_RETURN_IF_ERROR(s.ReadString("name", &config_.cluster_name, Need::kRequired, CheckName));
    DUET_RETURN_IF_ERROR(
        s.ReadString("key_file", &config_.key_file, Need::kRequired, CheckAbsolutePath));
    return s.ReadString("state_dir", &config_.state_dir, Need::kOptional, CheckAbsolutePath);
  }

  absl::Status ParseNodes(const Section& root) {
    DUET_ASSIGN_OR_RETURN(std::vector<const toml::table*> tables,
                          root.ReadTables("node", Need::kRequired));
    if (tables.size() != 2) {
      const toml::table* where = tables.empty() ? nullptr : tables[tables.size() > 2 ? 2 : 0];
      return root.Error(
          where, absl::StrCat("a cluster has exactly two [[node]] tables, not ", tables.size()));
    }
    for (size_t i = 0; i < tables.size(); ++i) {
      NodeConfig& node = config_.nodes.emplace_back();
      Section s = Open(*tables[i], absl::StrCat("in node #", i + 1));
      DUET_RETURN_IF_ERROR(s.ReadString("name", &node.name, Need::kRequired, CheckName));
      s = Open(*tables[i], absl::StrCat("in node '", node.name, "'"));
      DUET_RETURN_IF_ERROR(s.CheckKeys(kNodeKeys));
      if (i == 1 && node.name == config_.nodes[0].name) {
        return s.BadValue("name", *s.Find("name"),
                          absl::StrCat("node name \"", node.name, "\" is used twice"));
      }
      DUET_ASSIGN_OR_RETURN(const toml::array* links, s.ReadArray("heartbeat", Need::kRequired));
      if (links->empty()) return s.BadValue("heartbeat", *links, "needs at least one link");
      for (const toml::node& link : *links) {
        DUET_ASSIGN_OR_RETURN(std::string text, s.StringOf("heartbeat", link));
        absl::StatusOr<Endpoint> endpoint = ParseEndpointText(text);
        if (!endpoint.ok()) return s.BadValue("heartbeat", link, endpoint.status().message());
        node.heartbeat.push_back(*std::move(endpoint));
      }
      if (i == 1 && node.heartbeat.size() != config_.nodes[0].heartbeat.size()) {
        return s.BadValue(
            "heartbeat", *links,
            absl::StrCat("has ", node.heartbeat.size(), " links but node '", config_.nodes[0].name,
                         "' has ", config_.nodes[0].heartbeat.size(),
                         " (link i of one node pairs with link i of the other)"));
      }
      DUET_RETURN_IF_ERROR(s.ReadEndpoint("replication", &node.replication, Need::kRequired));
      DUET_RETURN_IF_ERROR(
          s.ReadString("admin_socket", &node.admin_socket, Need::kOptional, CheckAbsolutePath));
      DUET_RETURN_IF_ERROR(
          s.ReadString("state_dir", &node.state_dir, Need::kOptional, CheckAbsolutePath));
    }
    return absl::OkStatus();
  }

  absl::Status ParseHeartbeat(const Section& root) {
    DUET_ASSIGN_OR_RETURN(const toml::table* table, root.ReadTable("heartbeat", Need::kOptional));
    if (table == nullptr) return absl::OkStatus();
    Section s = Open(*table, "in [heartbeat]");
    HeartbeatConfig& hb = config_.heartbeat;
    DUET_RETURN_IF_ERROR(s.CheckKeys(kHeartbeatKeys));
    DUET_RETURN_IF_ERROR(s.ReadDuration("interval", &hb.interval));
    DUET_RETURN_IF_ERROR(s.ReadDuration("timeout", &hb.timeout));
    if (hb.timeout <= 2 * hb.interval) {
      const toml::node* at = s.Find("timeout") != nullptr ? s.Find("timeout") : s.Find("interval");
      return s.Error(at, absl::StrCat("'timeout' ", s.in(), " (", absl::FormatDuration(hb.timeout),
                                      ") must be more than twice 'interval' (",
                                      absl::FormatDuration(hb.interval), ")"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseReplication(const Section& root) {
    DUET_ASSIGN_OR_RETURN(const toml::table* table, root.ReadTable("replication", Need::kOptional));
    if (table == nullptr) return absl::OkStatus();
    Section s = Open(*table, "in [replication]");
    ReplicationConfig& r = config_.replication;
    DUET_RETURN_IF_ERROR(s.CheckKeys(kReplicationKeys));
    DUET_RETURN_IF_ERROR(s.ReadDuration("timeout", &r.timeout));
    DUET_RETURN_IF_ERROR(s.ReadSize("window_bytes", &r.window_bytes, /*per_second=*/false));
    if (r.window_bytes == 0) {
      return s.BadValue("window_bytes", *s.Find("window_bytes"), "must not be 0");
    }
    DUET_RETURN_IF_ERROR(s.ReadCount("window_count", &r.window_count, 1));
    return s.ReadSize("resync_bandwidth", &r.resync_bandwidth, /*per_second=*/true);
  }

  absl::Status ParseWitness(const Section& root) {
    DUET_ASSIGN_OR_RETURN(const toml::table* table, root.ReadTable("witness", Need::kOptional));
    if (table == nullptr) return absl::OkStatus();
    Section s = Open(*table, "in [witness]");
    WitnessConfig& w = config_.witness.emplace();
    DUET_RETURN_IF_ERROR(s.CheckKeys(kWitnessKeys));
    DUET_RETURN_IF_ERROR(s.ReadEndpoint("address", &w.address, Need::kRequired));
    DUET_RETURN_IF_ERROR(s.ReadDuration("lease", &w.lease));
    DUET_RETURN_IF_ERROR(s.ReadDuration("renew_interval", &w.renew_interval));
    DUET_RETURN_IF_ERROR(s.ReadDuration("drift_margin", &w.drift_margin));
    auto first_of = [&](absl::string_view a, absl::string_view b) {
      return s.Find(a) != nullptr ? s.Find(a) : s.Find(b);
    };
    if (w.drift_margin >= w.lease) {
      return s.Error(
          first_of("drift_margin", "lease"),
          absl::StrCat("'drift_margin' ", s.in(), " (", absl::FormatDuration(w.drift_margin),
                       ") must be less than 'lease' (", absl::FormatDuration(w.lease), ")"));
    }
    if (w.renew_interval >= w.lease - w.drift_margin) {
      return s.Error(
          first_of("renew_interval", "lease"),
          absl::StrCat("'renew_interval' ", s.in(), " (", absl::FormatDuration(w.renew_interval),
                       ") must be less than 'lease' minus 'drift_margin' (",
                       absl::FormatDuration(w.lease - w.drift_margin), ")"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseModules(const Section& root) {
    DUET_ASSIGN_OR_RETURN(std::vector<const toml::table*> tables,
                          root.ReadTables("module", Need::kOptional));
    if (tables.size() > kMaxModulesPerPair) {
      return root.Error(
          tables[kMaxModulesPerPair],
          absl::StrCat(tables.size(), " [[module]] tables exceed the limit of ", kMaxModulesPerPair,
                       " (every heartbeat carries every module in one UDP datagram)"));
    }
    for (size_t i = 0; i < tables.size(); ++i) {
      ModuleConfig& module = config_.modules.emplace_back();
      Section s = Open(*tables[i], absl::StrCat("in module #", i + 1));
      DUET_RETURN_IF_ERROR(s.ReadString("name", &module.name, Need::kRequired, CheckName));
      s = Open(*tables[i], absl::StrCat("in module '", module.name, "'"));
      if (config_.FindModule(module.name) != i) {
        return s.BadValue("name", *s.Find("name"),
                          absl::StrCat("module name \"", module.name, "\" is used twice"));
      }
      DUET_RETURN_IF_ERROR(ParseModule(s, module));
    }
    return absl::OkStatus();
  }

  absl::Status ParseModule(const Section& s, ModuleConfig& m) {
    DUET_RETURN_IF_ERROR(s.CheckKeys(kModuleKeys));
    std::string primary;
    DUET_RETURN_IF_ERROR(s.ReadString("default_primary", &primary, Need::kRequired));
    std::optional<NodeIndex> index = config_.FindNode(primary);
    if (!index.has_value()) {
      return s.BadValue("default_primary", *s.Find("default_primary"),
                        absl::StrCat("unknown node \"", primary, "\" (the nodes are ",
                                     config_.nodes[0].name, " and ", config_.nodes[1].name, ")"));
    }
    m.default_primary = *index;
    DUET_RETURN_IF_ERROR(ParseVips(s, m));
    DUET_RETURN_IF_ERROR(ParseDirectories(s, m));
    DUET_RETURN_IF_ERROR(
        s.ReadString("scripts", &m.scripts_dir, Need::kOptional, CheckAbsolutePath));
    DUET_RETURN_IF_ERROR(s.ReadDuration("script_timeout", &m.script_timeout));
    DUET_RETURN_IF_ERROR(s.ReadBool("failover", &m.failover));
    DUET_RETURN_IF_ERROR(
        s.ReadEnum<Failback>("failback", kFailbackNames, &m.failback, Need::kOptional));
    DUET_RETURN_IF_ERROR(s.ReadEnum<AckMode>("ack", kAckNames, &m.ack, Need::kOptional));
    DUET_RETURN_IF_ERROR(s.ReadEnum<SplitBrainPolicy>("split_brain", kSplitBrainNames,
                                                      &m.split_brain, Need::kOptional));
    DUET_RETURN_IF_ERROR(ParseZoneSize(s, m));
    DUET_RETURN_IF_ERROR(ParseRestart(s, m));
    DUET_ASSIGN_OR_RETURN(std::vector<const toml::table*> checkers,
                          s.ReadTables("checker", Need::kOptional));
    for (size_t i = 0; i < checkers.size(); ++i) {
      DUET_RETURN_IF_ERROR(ParseChecker(s, *checkers[i], i, m));
    }
    return absl::OkStatus();
  }

  absl::Status ParseVips(const Section& s, ModuleConfig& m) {
    DUET_ASSIGN_OR_RETURN(std::vector<const toml::table*> tables,
                          s.ReadTables("vips", Need::kOptional));
    for (size_t i = 0; i < tables.size(); ++i) {
      Section v = Open(*tables[i], absl::StrCat("in VIP #", i + 1, " of module '", m.name, "'"));
      VipConfig& vip = m.vips.emplace_back();
      DUET_RETURN_IF_ERROR(v.CheckKeys(kVipKeys));
      std::string ip;
      DUET_RETURN_IF_ERROR(v.ReadParsed("address", &ip, Need::kRequired, ParseVipAddress));
      DUET_RETURN_IF_ERROR(v.ReadString("address", &vip.address, Need::kRequired));
      DUET_RETURN_IF_ERROR(
          v.ReadString("interface", &vip.interface, Need::kRequired, CheckInterfaceName));
      DUET_RETURN_IF_ERROR(AddClaim(vips_, {ip, m.name, v.Find("address")}, v, "address"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseDirectories(const Section& s, ModuleConfig& m) {
    DUET_ASSIGN_OR_RETURN(const toml::array* dirs, s.ReadArray("directories", Need::kRequired));
    if (dirs->empty()) return s.BadValue("directories", *dirs, "needs at least one directory");
    for (const toml::node& dir : *dirs) {
      DUET_ASSIGN_OR_RETURN(std::string text, s.StringOf("directories", dir));
      absl::StatusOr<std::string> normal = NormalizeDirectory(text);
      if (!normal.ok()) return s.BadValue("directories", dir, normal.status().message());
      DUET_RETURN_IF_ERROR(AddClaim(directories_, {*normal, m.name, &dir}, s, "directories"));
      m.directories.push_back(*std::move(normal));
    }
    return absl::OkStatus();
  }

  absl::Status ParseZoneSize(const Section& s, ModuleConfig& m) {
    uint64_t size = m.zone_size;
    DUET_RETURN_IF_ERROR(s.ReadSize("zone_size", &size, /*per_second=*/false));
    // A resync block carries one zone, and a replication frame at most 4 MiB of data.
    if (size < 4096 || (size & (size - 1)) != 0 || size > (4ull << 20)) {
      return s.BadValue("zone_size", *s.Find("zone_size"),
                        absl::StrCat("must be a power of two from 4KiB to 4MiB, not ", size));
    }
    m.zone_size = static_cast<uint32_t>(size);
    return absl::OkStatus();
  }

  absl::Status ParseRestart(const Section& s, ModuleConfig& m) {
    DUET_ASSIGN_OR_RETURN(const toml::table* table, s.ReadTable("restart", Need::kOptional));
    if (table == nullptr) return absl::OkStatus();
    Section r = Open(*table, absl::StrCat("in 'restart' of module '", m.name, "'"));
    DUET_RETURN_IF_ERROR(r.CheckKeys(kRestartKeys));
    DUET_RETURN_IF_ERROR(r.ReadCount("max", &m.restart_max, 0));
    if (m.restart_max == 0 && r.Find("window") != nullptr) {
      return r.BadValue("window", *r.Find("window"),
                        "makes no sense with max = 0 (never restart): remove it");
    }
    return r.ReadDuration("window", &m.restart_window);
  }

  absl::Status ParseChecker(const Section& module, const toml::table& table, size_t index,
                            ModuleConfig& m) {
    CheckerConfig& c = m.checkers.emplace_back();
    Section s = Open(table, absl::StrCat("in checker #", index + 1, " of module '", m.name, "'"));
    DUET_RETURN_IF_ERROR(s.ReadString("name", &c.name, Need::kRequired, CheckName));
    s = Open(table, absl::StrCat("in checker '", c.name, "' of module '", m.name, "'"));
    for (size_t i = 0; i < index; ++i) {
      if (m.checkers[i].name == c.name) {
        return s.BadValue("name", *s.Find("name"),
                          absl::StrCat("checker name \"", c.name, "\" is used twice"));
      }
    }
    DUET_RETURN_IF_ERROR(s.CheckKeys(kCheckerKeys));
    DUET_RETURN_IF_ERROR(
        s.ReadEnum<CheckerType>("type", kCheckerTypeNames, &c.type, Need::kRequired));
    auto check_target = [&](absl::string_view text) -> absl::Status {
      switch (c.type) {
        case CheckerType::kTcp:
          return ParseEndpointText(text).status();
        case CheckerType::kInterface:
          return CheckInterfaceName(text);
        default:
          return absl::OkStatus();
      }
    };
    DUET_RETURN_IF_ERROR(s.ReadString("target", &c.target, Need::kRequired, check_target));
    DUET_RETURN_IF_ERROR(s.ReadDuration("interval", &c.interval));
    DUET_RETURN_IF_ERROR(s.ReadDuration("timeout", &c.timeout));
    DUET_RETURN_IF_ERROR(
        s.ReadEnum<OnFailure>("on_failure", kOnFailureNames, &c.on_failure, Need::kOptional));
    if (c.on_failure == OnFailure::kFailover && !m.failover) {
      return s.BadValue("on_failure", *s.Find("on_failure"),
                        absl::StrCat("is \"failover\" but ", module.in(), " has failover = false"));
    }
    return absl::OkStatus();
  }

  // Records `claim` in `claims` (vips_ or directories_), or fails if an earlier claim has the
  // same VIP or an overlapping directory.
  absl::Status AddClaim(std::vector<Claim>& claims, Claim claim, const Section& s,
                        absl::string_view key) {
    bool directories = &claims == &directories_;
    for (const Claim& earlier : claims) {
      if (directories ? !DirectoriesOverlap(earlier.value, claim.value)
                      : earlier.value != claim.value) {
        continue;
      }
      std::string where = absl::StrCat("module '", earlier.module, "' (line ",
                                       earlier.node->source().begin.line, ")");
      return s.BadValue(
          key, *claim.node,
          directories
              ? absl::StrCat("\"", claim.value, "\" overlaps \"", earlier.value, "\" of ", where)
              : absl::StrCat("\"", claim.value, "\" is already a VIP of ", where));
    }
    claims.push_back(std::move(claim));
    return absl::OkStatus();
  }

  absl::string_view file_;
  Config config_;
  std::vector<Claim> vips_;
  std::vector<Claim> directories_;
};

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view toml_text, std::string_view file_name) {
  try {
    toml::table root = toml::parse(toml_text, file_name);
    return Parser(AsAbsl(file_name)).Parse(root);
  } catch (const toml::parse_error& e) {
    return ErrorAt(AsAbsl(file_name), e.source(), AsAbsl(e.description()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(AsAbsl(file_name), ": ", e.what()));
  }
}

}  // namespace duet
