// duet_fuse_try_mount MOUNTPOINT MODULE_ROOT: mounts MODULE_ROOT/vol at MOUNTPOINT with a
// sink that applies every mutation at once (as a primary with no peer would), until SIGINT
// or SIGTERM. For measuring the mount by hand (fio, dd); try_mount_stop_test.py checks that
// it stops cleanly.
#include <signal.h>

#include <cstdio>
#include <string>

#include "adapters/fuse/replicated_mount.h"
#include "tests/adapters/fuse/applying_sink.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MOUNTPOINT MODULE_ROOT\n", argv[0]);
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  duet::ApplyingSink sink(argv[2]);
  duet::ReplicatedMountOptions options;
  options.mountpoint = argv[1];
  options.backing_root = std::string(argv[2]) + "/vol";
  options.path_prefix = "vol";
  duet::ReplicatedMount mount(
      options, [&sink](uint64_t op_id, duet::Mutation m) { sink.Receive(op_id, std::move(m)); });
  sink.SetCompleter([&mount](uint64_t op_id, absl::Status s) { (void)mount.Complete(op_id, s); });
  if (absl::Status s = mount.Mount(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("mounted\n");
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  mount.Unmount();
  sink.Stop();
  return 0;
}
