#include "engine/types.h"

namespace duet {

std::string_view ModuleStateName(ModuleState state) {
  switch (state) {
    case ModuleState::kStop:
      return "STOP";
    case ModuleState::kWait:
      return "WAIT";
    case ModuleState::kAlone:
      return "ALONE";
    case ModuleState::kPrim:
      return "PRIM";
    case ModuleState::kSecond:
      return "SECOND";
  }
  return "?";
}

std::string_view DataStateName(DataState state) {
  switch (state) {
    case DataState::kUnknown:
      return "unknown";
    case DataState::kOutdated:
      return "outdated";
    case DataState::kSyncing:
      return "syncing";
    case DataState::kUpToDate:
      return "up to date";
  }
  return "?";
}

std::string_view ScriptKindName(ScriptKind kind) {
  switch (kind) {
    case ScriptKind::kPrestart:
      return "prestart";
    case ScriptKind::kStartPrim:
      return "start_prim";
    case ScriptKind::kStopPrim:
      return "stop_prim";
    case ScriptKind::kStartSecond:
      return "start_second";
    case ScriptKind::kStopSecond:
      return "stop_second";
    case ScriptKind::kPoststop:
      return "poststop";
  }
  return "?";
}

}  // namespace duet
