#include "adapters/process/script_runner.h"

#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/process/script_environment.h"

namespace duet {
namespace {

// What the exit means, in words for the log ("exited with status 1 after 2.1s").
std::string DescribeExit(const ChildExit& exit, absl::Duration timeout, absl::Duration took) {
  std::string how;
  if (exit.timed_out) {
    how = absl::StrCat("timed out after ", absl::FormatDuration(timeout),
                       ": its process group was terminated (exit code ", exit.exit_code, ")");
  } else if (exit.signal != 0) {
    const char* name = sigabbrev_np(exit.signal);
    how = absl::StrCat("killed by signal ", exit.signal,
                       name ? absl::StrCat(" (SIG", name, ")") : "");
  } else {
    how = absl::StrCat("exited with status ", exit.exit_code);
  }
  return absl::StrCat(how, " after ",
                      absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))));
}

}  // namespace

ScriptRunner::ScriptRunner(boost::asio::io_context& io, LogCallback log)
    : ScriptRunner(io, std::move(log), Options()) {}

ScriptRunner::ScriptRunner(boost::asio::io_context& io, LogCallback log, Options options)
    : io_(io), log_(std::move(log)), options_(options), alive_(std::make_shared<bool>(true)) {}

ScriptRunner::~ScriptRunner() {
  alive_.reset();
  for (Started& started : started_) {
    if (std::shared_ptr<ChildProcess> child = started.child.lock()) child->Abandon();
  }
}

void ScriptRunner::Run(ScriptRequest request, ExitCallback on_exit) {
  ForgetEnded();
  const std::string script = ScriptKindName(request.kind);
  const std::string prefix = absl::StrCat(request.module, "/", script, ": ");
  auto log = [log = log_, module = request.module, prefix](std::string_view text) {
    if (log) log(module, prefix + std::string(text));
  };
  ScriptResult result;
  result.run_id = request.run_id;

  // Every script is optional: a missing one has nothing to do, so it succeeded.
  if (request.scripts_dir.empty()) {
    Finish(std::move(on_exit), result);
    return;
  }
  const std::string path = absl::StrCat(request.scripts_dir, "/", script);
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      log(absl::StrCat("no script ", path, ", nothing to run"));
    } else {
      log(absl::StrCat("cannot run ", path, ": ", std::strerror(error)));
      result.exit_code = 126;
    }
    Finish(std::move(on_exit), result);
    return;
  }

  ChildSpec spec;
  spec.argv = {path};
  spec.env = std::move(request.env);
  const bool has_path = std::any_of(spec.env.begin(), spec.env.end(),
                                    [](const auto& var) { return var.first == "PATH"; });
  if (!has_path) spec.env.emplace_back("PATH", kStandardPath);
  spec.timeout = request.timeout;
  spec.kill_grace = options_.kill_grace;

  const auto started_at = std::chrono::steady_clock::now();
  auto on_child_exit = [log, on_exit, result, timeout = request.timeout,
                        started_at](const ChildExit& exit) mutable {
    log(DescribeExit(exit, timeout,
                     absl::FromChrono(std::chrono::steady_clock::now() - started_at)));
    result.exit_code = exit.exit_code;
    result.timed_out = exit.timed_out;
    if (on_exit) on_exit(result);
  };
  absl::StatusOr<std::shared_ptr<ChildProcess>> child =
      ChildProcess::Spawn(io_, spec, log, std::move(on_child_exit));
  if (!child.ok()) {
    log(std::string(child.status().message()));
    // As a shell says it: 127 when there is nothing to run, 126 when it cannot be run.
    result.exit_code = absl::IsNotFound(child.status()) ? 127 : 126;
    Finish(std::move(on_exit), result);
    return;
  }
  log(absl::StrCat("started ", path, ", process group ", (*child)->pid()));
  if (options_.on_started) options_.on_started(request.module, (*child)->pid());
  started_.push_back(Started{request.module, prefix, *child});
}

void ScriptRunner::Finish(ExitCallback on_exit, ScriptResult result) {
  boost::asio::post(io_,
                    [alive = std::weak_ptr<bool>(alive_), on_exit = std::move(on_exit), result] {
                      if (alive.expired() || !on_exit) return;
                      on_exit(result);
                    });
}

void ScriptRunner::KillAll() {
  for (Started& started : started_) {
    std::shared_ptr<ChildProcess> child = started.child.lock();
    if (child == nullptr || !child->running()) continue;
    if (log_) {
      log_(started.module,
           absl::StrCat(started.log_prefix, "killing process group ", child->pid()));
    }
    child->KillGroup();
  }
}

size_t ScriptRunner::running() const {
  return static_cast<size_t>(std::count_if(started_.begin(), started_.end(), [](const Started& s) {
    std::shared_ptr<ChildProcess> child = s.child.lock();
    return child != nullptr && child->running();
  }));
}

void ScriptRunner::ForgetEnded() {
  std::erase_if(started_, [](const Started& s) { return s.child.expired(); });
}

}  // namespace duet
