// Runs a module's scripts (prestart, start_prim, stop_prim, start_second, stop_second,
// poststop) for duetd: carries out the engine's RunScript and answers with what becomes its
// ScriptExited (DESIGN.md §7).
//
// Contract
//  - Run calls on_exit exactly once per call, always later from the loop, never from inside
//    Run. A script that does not exist (no scripts_dir, or no such file in it) succeeds
//    with exit code 0: every script is optional. One that cannot be executed (not
//    executable, not a program) fails with 126, as a shell would say, and the log says why.
//  - The script runs as <scripts_dir>/<kind name> in its own session and process group,
//    with stdin /dev/null, working directory "/", exactly the environment of the request
//    (PATH added when absent), and every line of its stdout and stderr logged as
//    "<module>/<script>: <line>" (the start is logged with its process group id). Lines from
//    processes the script leaves running (the application it starts) are logged for as
//    long as they write to that pipe; those processes are never signalled once the script
//    itself has exited.
//  - Timeout: SIGTERM to the whole group, SIGKILL to the group after kill_grace, then
//    on_exit with timed_out (so it comes kill_grace after the timeout: the script's pid is
//    kept unreaped until the SIGKILL so that its group id cannot be reused meanwhile).
//    Killed by a signal: exit code 128 + the signal number.
//  - KillAll sends SIGKILL to the group of every script still running; their on_exit calls
//    follow from the loop. The destructor does the same but calls no callback any more;
//    the killed scripts are reaped by the loop, or when the io_context is destroyed.
//  - Options::on_started is told each started script's process group id (its pid), before
//    Run returns: what the script leaves running in that group (the application) is found
//    there later, by whoever must stop it.
//  - All calls and callbacks on the io_context's thread; callbacks may call Run or KillAll.
#ifndef DUET_ADAPTERS_PROCESS_SCRIPT_RUNNER_H_
#define DUET_ADAPTERS_PROCESS_SCRIPT_RUNNER_H_

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "adapters/process/child_process.h"
#include "engine/types.h"

namespace duet {

struct ScriptRequest {
  std::string module;
  ScriptKind kind = ScriptKind::kPrestart;
  uint64_t run_id = 0;
  std::string scripts_dir;  // "" when the module has no scripts
  Environment env;          // see ScriptEnvironment (script_environment.h)
  absl::Duration timeout = absl::Seconds(60);
};

struct ScriptResult {
  uint64_t run_id = 0;
  int exit_code = 0;
  bool timed_out = false;
};

class ScriptRunner {
 public:
  using ExitCallback = std::function<void(const ScriptResult&)>;
  // One line for the module's log: a line of script output, or what the runner did
  // (a timeout, a kill, a script that could not start).
  using LogCallback = std::function<void(std::string_view module, std::string_view line)>;

  using StartedCallback = std::function<void(std::string_view module, pid_t process_group)>;

  struct Options {
    absl::Duration kill_grace = absl::Seconds(5);  // between SIGTERM and SIGKILL
    StartedCallback on_started;                    // may be empty
  };

  ScriptRunner(boost::asio::io_context& io, LogCallback log);
  ScriptRunner(boost::asio::io_context& io, LogCallback log, Options options);
  ScriptRunner(const ScriptRunner&) = delete;
  ScriptRunner& operator=(const ScriptRunner&) = delete;
  ~ScriptRunner();

  void Run(ScriptRequest request, ExitCallback on_exit);
  void KillAll();
  // Scripts started and not yet exited.
  size_t running() const;

 private:
  struct Started {
    std::string module;
    std::string log_prefix;  // "<module>/<script>: "
    std::weak_ptr<ChildProcess> child;
  };

  void Finish(ExitCallback on_exit, ScriptResult result);
  void ForgetEnded();

  boost::asio::io_context& io_;
  LogCallback log_;
  Options options_;
  // Every child started that may still call back (running, or its pipe still open).
  std::vector<Started> started_;
  // Shared with the callbacks posted to the loop: false once this runner is gone.
  std::shared_ptr<bool> alive_;
};

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_SCRIPT_RUNNER_H_
