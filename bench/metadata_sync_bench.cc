// duet-metadata-bench: Persist actions made durable per second by the MetadataStore on a real
// disk, one fdatasync each (Append, as duetd did before group commit) against groups of 4 and
// 16 (AppendGroup: one frame and one fdatasync for a run of one file), rounds alternating the
// three, median of the rounds (DESIGN.md §9: ratios in the same run; reports, never asserts). Each
// Persist is a small-file operation's activity-log record (a PersistReplica of one HotNameAdd),
// about 60 bytes framed.
//
//   duet-metadata-bench [--persists N] [--rounds N] [--dir DIR]
//
// DIR (default /var/tmp) must be on the disk duetd's state_dir uses (a tmpfs syncs nothing).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/metadata/metadata_store.h"

namespace duet::metadata {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int persists = 400;
  int rounds = 5;
  std::string dir = "/var/tmp";
};

// Persists per second for `persists` PersistReplica actions in groups of `group`.
double PersistsPerSecond(const std::string& dir, int persists, int group) {
  std::string templ = dir + "/duet-metadata-bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  absl::StatusOr<Recovered> r = MetadataStore::Open(templ, {{"bench", 64 * 1024}});
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
    std::exit(1);
  }
  std::vector<Action> actions;
  for (int i = 0; i < persists; ++i) {
    actions.push_back(
        PersistReplica{0, {record::HotNameAdd{absl::StrCat("dir", i % 100, "/file ", i)}}});
  }
  const auto start = Clock::now();
  for (int i = 0; i < persists; i += group) {
    const int n = std::min(group, persists - i);
    absl::Status s = group == 1 ? r->store->Append(actions[i])
                                : r->store->AppendGroup({actions.data() + i, size_t(n)});
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r->store.reset();
  std::filesystem::remove_all(templ);
  return persists / seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--persists") {
      o.persists = std::atoi(argv[i + 1]);
    } else if (flag == "--rounds") {
      o.rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--dir") {
      o.dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--persists N] [--rounds N] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  const int groups[] = {1, 4, 16};
  std::vector<double> rate[3], ratio[3];
  for (int round = 0; round < o.rounds; ++round) {
    double per_round[3];
    for (int g = 0; g < 3; ++g) per_round[g] = PersistsPerSecond(o.dir, o.persists, groups[g]);
    for (int g = 0; g < 3; ++g) {
      rate[g].push_back(per_round[g]);
      ratio[g].push_back(per_round[g] / per_round[0]);
    }
  }
  std::printf("%d persists per run, %d rounds, in %s; median of the rounds\n", o.persists, o.rounds,
              o.dir.c_str());
  std::printf("%-22s %14s %10s\n", "persists per fdatasync", "persists/s", "ratio");
  for (int g = 0; g < 3; ++g) {
    std::printf("%-22d %14.0f %10.2f\n", groups[g], Median(rate[g]), Median(ratio[g]));
  }
  return 0;
}

}  // namespace
}  // namespace duet::metadata

int main(int argc, char** argv) { return duet::metadata::Main(argc, argv); }
