#include "engine/types.h"

#include "engine/inputs.h"

namespace duet {

const char* ModuleStateName(ModuleState state) {
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

const char* DataStateName(DataState state) {
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

const char* ScriptKindName(ScriptKind kind) {
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

const char* AdminVerbName(AdminVerb verb) {
  switch (verb) {
    case AdminVerb::kStart:
      return "start";
    case AdminVerb::kStop:
      return "stop";
    case AdminVerb::kSwap:
      return "swap";
    case AdminVerb::kPrim:
      return "prim";
    case AdminVerb::kSecond:
      return "second";
    case AdminVerb::kRestart:
      return "restart";
    case AdminVerb::kDiscard:
      return "discard";
  }
  return "?";
}

}  // namespace duet
