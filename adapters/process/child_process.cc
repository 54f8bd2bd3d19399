#include "adapters/process/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace duet {
namespace {

absl::Status ErrnoStatus(int error, const std::string& what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOEXEC:
      return absl::FailedPreconditionError(message);
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// Closes a descriptor on every path out of Spawn that does not hand it on.
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage: call the kernel directly.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int ExitCodeOf(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;  // CLD_KILLED or CLD_DUMPED
}

}  // namespace

std::chrono::steady_clock::duration ToTimerDuration(absl::Duration duration) {
  // A year stands for "never": steady_clock::now() + max would overflow.
  const absl::Duration capped = std::clamp(duration, absl::ZeroDuration(), absl::Hours(24 * 365));
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(capped));
}

absl::StatusOr<std::shared_ptr<ChildProcess>> ChildProcess::Spawn(boost::asio::io_context& io,
                                                                  const ChildSpec& spec,
                                                                  LineCallback on_line,
                                                                  ExitCallback on_exit) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("no program to run");
  const std::string& program = spec.argv[0];

  std::array<int, 2> pipe_fds;
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot create the output pipe for ", program));
  }
  OwnedFd read_end(pipe_fds[0]);
  OwnedFd write_end(pipe_fds[1]);

  SpawnSetup setup;
  // A session of its own: its own process group, and no controlling terminal to inherit.
  short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  posix_spawnattr_setflags(&setup.attr, flags);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  // Dispositions the daemon set (SIGPIPE ignored, say) would survive exec: reset them all.
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDERR_FILENO);
  // The daemon's sockets, FUSE device and files must not leak into scripts and the
  // applications they start (asio does not open its sockets close-on-exec).
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  // Not the daemon's working directory: a script must not keep a mount busy by accident.
  posix_spawn_file_actions_addchdir_np(&setup.actions, "/");

  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  env_strings.reserve(spec.env.size());
  for (const auto& [name, value] : spec.env) env_strings.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int spawn_error =
      ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (spawn_error != 0) return ErrnoStatus(spawn_error, absl::StrCat("cannot run ", program));
  write_end.reset();  // only the child writes: the pipe ends when its writers are gone

  // Nobody else reaps our children, so the pid still names this child even if it has exited.
  OwnedFd pidfd(PidfdOpen(pid));
  if (pidfd.get() < 0) {
    const int error = errno;
    ::kill(-pid, SIGKILL);
    siginfo_t info;
    ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED);
    return ErrnoStatus(error, absl::StrCat("cannot watch process ", pid, " (", program, ")"));
  }
  const int fl = ::fcntl(read_end.get(), F_GETFL);
  ::fcntl(read_end.get(), F_SETFL, fl | O_NONBLOCK);

  boost::asio::posix::stream_descriptor exit_watch(io);
  boost::asio::posix::stream_descriptor output(io);
  boost::system::error_code error;
  exit_watch.assign(pidfd.get(), error);
  if (!error) {
    pidfd.release();
    output.assign(read_end.get(), error);
  }
  if (error) {
    // The loop cannot watch it: do not leave the child behind.
    ::kill(-pid, SIGKILL);
    siginfo_t info;
    ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED);
    return absl::InternalError(
        absl::StrCat("cannot watch process ", pid, " (", program, "): ", error.message()));
  }
  read_end.release();
  auto child =
      std::make_shared<ChildProcess>(Private{}, pid, std::move(exit_watch), std::move(output),
                                     spec.kill_grace, std::move(on_line), std::move(on_exit));
  child->Start(spec.timeout);
  return child;
}

ChildProcess::ChildProcess(Private, pid_t pid, boost::asio::posix::stream_descriptor pidfd,
                           boost::asio::posix::stream_descriptor output, absl::Duration kill_grace,
                           LineCallback on_line, ExitCallback on_exit)
    : pid_(pid),
      pidfd_(std::move(pidfd)),
      output_(std::move(output)),
      deadline_(pidfd_.get_executor()),
      kill_grace_(kill_grace),
      on_line_(std::move(on_line)),
      on_exit_(std::move(on_exit)) {}

ChildProcess::~ChildProcess() {
  if (reaped_) return;
  // Only reached when the loop was destroyed with this child still running.
  SignalGroup(SIGKILL);
  siginfo_t info;
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.native_handle()), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
}

void ChildProcess::Start(absl::Duration timeout) {
  WaitForExit();
  WaitForOutput();
  if (timeout == absl::InfiniteDuration()) return;
  deadline_.expires_after(ToTimerDuration(timeout));
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) self->OnTimeout();
  });
}

void ChildProcess::WaitForExit() {
  pidfd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [self = shared_from_this()](const boost::system::error_code& error) {
                      if (error == boost::asio::error::operation_aborted) return;
                      self->leader_exited_ = true;
                      // After a timeout the leader stays unreaped until the grace period
                      // is over: its pid keeps the group id from being reused meanwhile.
                      if (self->timed_out_ && !self->grace_over_) return;
                      self->ReapAndReport();
                    });
}

void ChildProcess::WaitForOutput() {
  if (output_wait_armed_ || !output_.is_open()) return;
  output_wait_armed_ = true;
  output_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& error) {
                       self->output_wait_armed_ = false;
                       if (!error) self->OnOutputReady();
                     });
}

void ChildProcess::OnOutputReady() {
  if (!output_.is_open()) return;
  switch (ReadOutput()) {
    case OutputState::kEnded:
      CloseOutput();
      return;
    case OutputState::kDrained:
      WaitForOutput();
      return;
    case OutputState::kMore:
      // A child writing without pause must not starve the loop: let others run first.
      boost::asio::post(output_.get_executor(),
                        [self = shared_from_this()] { self->OnOutputReady(); });
      return;
  }
}

ChildProcess::OutputState ChildProcess::ReadOutput() {
  // One pipe's default capacity per turn: after the leader's exit, all it wrote.
  constexpr int kReadsPerTurn = 16;
  std::array<char, 4096> buffer;
  for (int reads = 0; reads < kReadsPerTurn;) {
    const ssize_t n = ::read(output_.native_handle(), buffer.data(), buffer.size());
    if (n > 0) {
      lines_.Append(std::string_view(buffer.data(), static_cast<size_t>(n)), on_line_);
      ++reads;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return OutputState::kDrained;
    return OutputState::kEnded;  // end of file, or an error that ends the stream all the same
  }
  return OutputState::kMore;
}

void ChildProcess::CloseOutput() {
  if (!output_.is_open()) return;
  lines_.Flush(on_line_);
  boost::system::error_code ignored;
  output_.close(ignored);
}

void ChildProcess::OnTimeout() {
  if (reaped_) return;
  timed_out_ = true;
  SignalGroup(SIGTERM);
  deadline_.expires_after(ToTimerDuration(kill_grace_));
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) self->OnGraceExpired();
  });
}

void ChildProcess::OnGraceExpired() {
  grace_over_ = true;
  SignalGroup(SIGKILL);
  if (leader_exited_) ReapAndReport();
}

void ChildProcess::ReapAndReport() {
  if (reaped_) return;
  siginfo_t info{};
  int result;
  do {
    result = ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.native_handle()), &info, WEXITED | WNOHANG);
  } while (result != 0 && errno == EINTR);
  if (result == 0 && info.si_pid == 0) {
    leader_exited_ = false;
    WaitForExit();  // woken without an exit to collect: wait again
    return;
  }
  reaped_ = true;
  boost::system::error_code ignored;
  deadline_.cancel(ignored);
  pidfd_.close(ignored);
  // Everything the leader wrote is in the pipe by now: give it out before the exit.
  OnOutputReady();
  ChildExit exit;
  // -1: the status was lost (someone else reaped the child, against the contract).
  exit.exit_code = result == 0 ? ExitCodeOf(info) : -1;
  exit.signal = result == 0 && info.si_code != CLD_EXITED ? info.si_status : 0;
  exit.timed_out = timed_out_;
  ExitCallback on_exit = std::move(on_exit_);
  on_exit_ = nullptr;
  if (on_exit) on_exit(exit);
}

void ChildProcess::SignalGroup(int signal) {
  if (reaped_) return;  // the group id may belong to someone else now
  ::kill(-pid_, signal);
}

void ChildProcess::KillGroup() { SignalGroup(SIGKILL); }

void ChildProcess::Abandon() {
  on_line_ = nullptr;
  on_exit_ = nullptr;
  SignalGroup(SIGKILL);
  boost::system::error_code ignored;
  deadline_.cancel(ignored);
  output_.close(ignored);
  // A timed-out child waiting for its grace period is killed now: reap it when it goes.
  grace_over_ = true;
  if (leader_exited_) ReapAndReport();
}

}  // namespace duet
