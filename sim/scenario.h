// Scripted runs narrated for an operator: one line per event with its simulated time. Each
// scenario checks its own outcome.
#ifndef DUET_SIM_SCENARIO_H_
#define DUET_SIM_SCENARIO_H_

#include <ostream>
#include <string>

namespace duet::sim {

// Names of the scenarios RunScenario knows.
const char* ScenarioNames();

// Runs the named scenario, narrating it on `out`; true if it ended as it must. Unknown names
// return false with a message.
bool RunScenario(const std::string& name, std::ostream& out);

// Two modules, one homed on each node (active-active); node a crashes, its module fails over
// to b; a returns, resyncs, and the module fails back to a. m1 stays on b throughout.
bool RunActiveActiveScenario(std::ostream& out);

}  // namespace duet::sim

#endif  // DUET_SIM_SCENARIO_H_
