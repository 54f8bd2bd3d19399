// Readable gtest output for engine enums (gtest finds PrintTo by argument-dependent lookup).
#ifndef DUET_TESTS_ENGINE_PRINTERS_H_
#define DUET_TESTS_ENGINE_PRINTERS_H_

#include <ostream>

#include "engine/types.h"

namespace duet {

inline void PrintTo(ModuleState state, std::ostream* os) { *os << ModuleStateName(state); }
inline void PrintTo(DataState state, std::ostream* os) { *os << DataStateName(state); }

}  // namespace duet

#endif  // DUET_TESTS_ENGINE_PRINTERS_H_
