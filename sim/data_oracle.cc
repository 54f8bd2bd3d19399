#include "sim/data_oracle.h"

#include <algorithm>
#include <utility>

namespace duet::sim {

DataOracle::DataOracle(std::vector<NodeIndex> default_primaries, absl::Duration resync_time)
    : default_primaries_(std::move(default_primaries)), resync_time_(resync_time) {
  for (auto& copies : copies_) copies.resize(default_primaries_.size());
}

void DataOracle::NodeStarted(NodeIndex n) {
  for (Copy& copy : copies_[n]) {
    copy.known = false;
    copy.resync_started = absl::InfiniteFuture();
  }
}

void DataOracle::Observe(absl::Time now, ModuleIndex m, const std::array<NodeView, 2>& nodes,
                         bool connected) {
  if (connected && copies_[0][m].missed && copies_[1][m].missed) {
    copies_[default_primaries_[m]][m].missed = false;  // split brain: policy picks the survivor
  }
  for (NodeIndex n = 0; n < 2; ++n) {
    Copy& self = copies_[n][m];
    const NodeView& me = nodes[n];
    const NodeView& peer = nodes[Peer(n)];
    if (!me.up) continue;
    if (connected) self.known = true;
    // The only writer holds the reference copy; a writer we cannot hear leaves us behind.
    if (me.writable && !(peer.up && peer.writable)) self.missed = self.knows_missed = false;
    if (peer.up && peer.writable && !connected) self.missed = true;
    if (connected) self.knows_missed = self.missed;
    if (self.missed && !me.writable && me.secondary && peer.up && peer.writable && connected) {
      if (self.resync_started == absl::InfiniteFuture()) self.resync_started = now;
      const absl::Duration done = now - self.resync_started;
      if (done >= resync_time_) {
        self.missed = false;
        self.knows_missed = false;
        self.resync_started = absl::InfiniteFuture();
        self.percent = 100;
      } else {
        self.percent = static_cast<uint8_t>(100 * absl::FDivDuration(done, resync_time_));
      }
    } else {
      self.resync_started = absl::InfiniteFuture();
    }
  }
  // The copy of a node that is down misses whatever the other writes.
  for (NodeIndex n = 0; n < 2; ++n) {
    if (!nodes[n].up && nodes[Peer(n)].up && nodes[Peer(n)].writable) copies_[n][m].missed = true;
  }
}

DataState DataOracle::Reported(NodeIndex n, ModuleIndex m) const {
  const Copy& copy = copies_[n][m];
  if (!copy.known) return DataState::kUnknown;
  if (!copy.knows_missed) return DataState::kUpToDate;
  return copy.resync_started != absl::InfiniteFuture() ? DataState::kSyncing : DataState::kOutdated;
}

uint8_t DataOracle::Percent(NodeIndex n, ModuleIndex m) const { return copies_[n][m].percent; }

}  // namespace duet::sim
