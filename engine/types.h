// Basic vocabulary of the engine: node and module indices, module and data states, scripts.
// Everything here is a plain value; names are what operators see in status and logs.
#ifndef DUET_ENGINE_TYPES_H_
#define DUET_ENGINE_TYPES_H_

#include <cstdint>
#include <string_view>

namespace duet {

// Index of a node in Config::nodes (a pair: 0 or 1).
using NodeIndex = uint8_t;
// Index of a module in Config::modules.
using ModuleIndex = uint32_t;

inline constexpr NodeIndex Peer(NodeIndex self) { return static_cast<NodeIndex>(1 - self); }

// Module states as an operator sees them (DESIGN.md §3).
enum class ModuleState : uint8_t {
  kStop,    // stopped by the admin
  kWait,    // cannot run yet; the reason is always given
  kAlone,   // primary without an up-to-date replica
  kPrim,    // primary with an up-to-date secondary
  kSecond,  // replica (up to date, or syncing)
};

// What this node knows about its copy of a module's data. Owned by the replication part.
enum class DataState : uint8_t {
  kUnknown,   // not known up to date (e.g. just booted, peer never seen)
  kOutdated,  // known to lack writes the peer has
  kSyncing,   // resync in progress toward up to date
  kUpToDate,
};

enum class ScriptKind : uint8_t {
  kPrestart,
  kStartPrim,
  kStopPrim,
  kStartSecond,
  kStopSecond,
  kPoststop,
};

const char* ModuleStateName(ModuleState state);
const char* DataStateName(DataState state);
const char* ScriptKindName(ScriptKind kind);

}  // namespace duet

#endif  // DUET_ENGINE_TYPES_H_
