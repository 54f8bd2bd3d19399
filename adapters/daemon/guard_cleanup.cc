#include "adapters/daemon/guard_cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "adapters/daemon/app_groups.h"
#include "adapters/vip/address_netlink.h"
#include "adapters/vip/vip_address.h"

namespace duet::daemon {
namespace {

constexpr const char* kDuetMountType = "fuse.duet";

struct ProcEntry {
  pid_t pid = 0;
  pid_t parent = 0;
  pid_t group = 0;
  char state = '?';
  std::string name;
};

// Every process in /proc with its parent, group and state. A process that ends while it is
// read is left out.
std::vector<ProcEntry> ReadProcessTable() {
  std::vector<ProcEntry> table;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return table;
  while (struct dirent* entry = ::readdir(proc)) {
    int32_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::istringstream rest(stat.substr(close + 1));
    ProcEntry e;
    e.pid = pid;
    e.name = stat.substr(open + 1, close - open - 1);
    if (!(rest >> e.state >> e.parent >> e.group)) continue;
    table.push_back(std::move(e));
  }
  ::closedir(proc);
  return table;
}

// The descendants of `root` in `table` (zombies included), by pid.
std::map<pid_t, const ProcEntry*> DescendantsIn(const std::vector<ProcEntry>& table, pid_t root) {
  std::multimap<pid_t, const ProcEntry*> children;
  for (const ProcEntry& e : table) children.emplace(e.parent, &e);
  std::map<pid_t, const ProcEntry*> found;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      if (found.emplace(it->second->pid, it->second).second) todo.push_back(it->second->pid);
    }
  }
  return found;
}

// Reaps the zombies among the caller's own children.
void ReapZombieChildren(const std::vector<ProcEntry>& table) {
  const pid_t self = ::getpid();
  for (const ProcEntry& e : table) {
    if (e.parent == self && e.state == 'Z') ::waitpid(e.pid, nullptr, WNOHANG);
  }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountPath(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string octal = text.substr(i + 1, 3);
      if (octal.size() == 3 && octal.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(octal, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string NormalPath(const std::string& path) {
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string Names(const std::vector<ProcessInfo>& processes) {
  return absl::StrJoin(processes, ", ", [](std::string* out, const ProcessInfo& p) {
    absl::StrAppend(out, p.pid, " (", p.name, ")");
  });
}

}  // namespace

NodeFootprint FootprintOf(const Config& config, NodeIndex self) {
  NodeFootprint footprint;
  footprint.state_dir = config.StateDirOf(self);
  for (const ModuleConfig& mc : config.modules) {
    footprint.modules.push_back({mc.name, mc.directories, mc.vips});
  }
  return footprint;
}

absl::StatusOr<bool> RemoveVipNow(const VipConfig& vip) {
  const std::string what = absl::StrCat("VIP ", vip.address, " on ", vip.interface, ": ");
  absl::StatusOr<vip::VipAddress> address = vip::ParseVipAddress(vip.address);
  if (!address.ok()) {
    return absl::Status(address.status().code(), what + std::string(address.status().message()));
  }
  absl::StatusOr<int> index = vip::InterfaceIndex(vip.interface);
  // No such interface: the address cannot be on it.
  if (absl::IsNotFound(index.status())) return false;
  if (!index.ok()) {
    return absl::Status(index.status().code(), what + std::string(index.status().message()));
  }
  absl::StatusOr<bool> removed = vip::RemoveInterfaceAddress(*index, *address);
  if (!removed.ok()) {
    return absl::Status(removed.status().code(), what + std::string(removed.status().message()));
  }
  return *removed;
}

absl::StatusOr<bool> HasDuetMount(const std::string& directory) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return absl::InternalError("cannot read /proc/self/mountinfo");
  const std::string wanted = NormalPath(directory);
  std::string line;
  bool top_is_duet = false, mounted = false;
  while (std::getline(in, line)) {
    // "id parent major:minor root mountpoint options [optional...] - fstype source options"
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    size_t separator = 6;
    while (separator < fields.size() && fields[separator] != "-") ++separator;
    if (fields.size() < 5 || separator + 1 >= fields.size()) continue;
    if (NormalPath(UnescapeMountPath(fields[4])) != wanted) continue;
    // Later lines are mounted later: the last one at the path is the one on top.
    mounted = true;
    top_is_duet = fields[separator + 1] == kDuetMountType;
  }
  return mounted && top_is_duet;
}

absl::StatusOr<int> DetachDuetMounts(const std::string& directory) {
  int detached = 0;
  // Bounded: a mount that MNT_DETACH reports gone yet stays listed must not loop forever.
  for (int round = 0; round < 64; ++round) {
    absl::StatusOr<bool> duet = HasDuetMount(directory);
    if (!duet.ok()) return duet.status();
    if (!*duet) return detached;
    if (::umount2(directory.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot detach the mount at ", directory, ": ", strerror(errno)));
    }
    ++detached;
  }
  return absl::InternalError(absl::StrCat("the mounts at ", directory, " do not go away"));
}

std::vector<ProcessInfo> DescendantsOf(pid_t root) {
  std::vector<ProcEntry> table = ReadProcessTable();
  std::vector<ProcessInfo> living;
  for (const auto& [pid, e] : DescendantsIn(table, root)) {
    if (e->state != 'Z' && e->state != 'X') living.push_back({pid, e->name});
  }
  return living;
}

std::vector<ProcessInfo> KillGroupOfDescendants(pid_t group) {
  std::vector<ProcEntry> table = ReadProcessTable();
  std::vector<ProcessInfo> members;
  for (const auto& [pid, e] : DescendantsIn(table, ::getpid())) {
    if (e->group == group && e->state != 'Z' && e->state != 'X') members.push_back({pid, e->name});
  }
  if (group > 1 && !members.empty()) ::kill(-group, SIGKILL);
  return members;
}

std::vector<ProcessInfo> KillDescendants(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<ProcessInfo> killed;
  std::set<pid_t> signalled;
  for (;;) {
    std::vector<ProcEntry> table = ReadProcessTable();
    ReapZombieChildren(table);
    std::vector<ProcessInfo> living;
    for (const auto& [pid, e] : DescendantsIn(table, ::getpid())) {
      if (e->state != 'Z' && e->state != 'X') living.push_back({pid, e->name});
    }
    if (living.empty() || absl::Now() >= deadline) return killed;
    for (const ProcessInfo& p : living) {
      ::kill(p.pid, SIGKILL);
      if (signalled.insert(p.pid).second) killed.push_back(p);
    }
    // A killed process takes a moment to die and be reparented; look again soon.
    ::usleep(5000);
  }
}

void CleanUpAfterDaemon(const NodeFootprint& footprint, const std::string& reason, DaemonLog& log) {
  const std::string lock_path = footprint.state_dir + "/duetd.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd >= 0 && ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    log.Node(absl::StrCat("guard: another duetd holds ", lock_path,
                          ": its VIPs, mounts and applications are left alone (", reason, ")"));
    ::close(lock_fd);
    return;
  }
  // 1. Clients stop reaching this node first.
  for (const NodeFootprint::ModuleDirectories& m : footprint.modules) {
    for (const VipConfig& v : m.vips) {
      absl::StatusOr<bool> removed = RemoveVipNow(v);
      if (!removed.ok()) {
        log.Module(m.module, absl::StrCat("guard: cannot release ", removed.status().message(),
                                          " (", reason, ")"));
      } else if (*removed) {
        log.Module(m.module, absl::StrCat("guard: released VIP ", v.address, " from ", v.interface,
                                          " (", reason, ")"));
      }
    }
  }
  // 2. The applications: each module's recorded groups, then whatever left its group.
  AppGroups groups(RunDirOf(footprint.state_dir));
  std::set<pid_t> group_members;
  for (const NodeFootprint::ModuleDirectories& m : footprint.modules) {
    for (pid_t group : groups.Recorded(m.module)) {
      std::vector<ProcessInfo> members = KillGroupOfDescendants(group);
      for (const ProcessInfo& p : members) group_members.insert(p.pid);
      if (!members.empty()) {
        log.Module(m.module, absl::StrCat("guard: killed process group ", group, ": ",
                                          Names(members), " (", reason, ")"));
      }
    }
    groups.Forget(m.module);
  }
  std::vector<ProcessInfo> rest = KillDescendants(absl::Seconds(5));
  // A group member may not have died yet when the sweep looks: it is logged with its group.
  std::erase_if(rest, [&](const ProcessInfo& p) { return group_members.contains(p.pid); });
  if (!rest.empty()) {
    log.Node(absl::StrCat("guard: killed what duetd's processes left running: ", Names(rest), " (",
                          reason, ")"));
  }
  if (std::vector<ProcessInfo> left = DescendantsOf(::getpid()); !left.empty()) {
    log.Node(absl::StrCat("guard: still running after SIGKILL: ", Names(left)));
  }
  // 3. The mounts, only now: an application still running after a detach would resolve its
  // absolute paths to the directory under the mount and write there, unreplicated and hidden
  // by the next mount; while the dead mount is in place it only gets ENOTCONN.
  for (const NodeFootprint::ModuleDirectories& m : footprint.modules) {
    for (const std::string& directory : m.directories) {
      absl::StatusOr<int> detached = DetachDuetMounts(directory);
      if (!detached.ok()) {
        log.Module(m.module,
                   absl::StrCat("guard: ", detached.status().message(), " (", reason, ")"));
      } else if (*detached > 0) {
        log.Module(m.module,
                   absl::StrCat("guard: detached the mount at ", directory, " (", reason, ")"));
      }
    }
  }
  if (lock_fd >= 0) ::close(lock_fd);
}

}  // namespace duet::daemon
