#include "sim/data_oracle.h"

#include <algorithm>

namespace duet::sim {

DataOracle::DataOracle(size_t modules, absl::Duration resync_time) : resync_time_(resync_time) {
  for (auto& copies : copies_) copies.resize(modules);
}

void DataOracle::NodeStarted(NodeIndex n) {
  for (Copy& copy : copies_[n]) {
    copy.known = false;
    copy.resync_started = absl::InfiniteFuture();
  }
}

void DataOracle::Observe(absl::Time now, ModuleIndex m, const std::array<NodeView, 2>& nodes,
                         bool connected) {
  for (NodeIndex n = 0; n < 2; ++n) {
    Copy& self = copies_[n][m];
    const NodeView& me = nodes[n];
    const NodeView& peer = nodes[Peer(n)];
    if (!me.up) continue;
    if (connected) self.known = true;
    // The only writer holds the reference copy; a writer we cannot hear leaves us behind.
    if (me.writable && !(peer.up && peer.writable)) self.missed = false;
    if (peer.up && peer.writable && !connected) self.missed = true;
    if (self.missed && !me.writable && me.secondary && peer.up && peer.writable && connected) {
      if (self.resync_started == absl::InfiniteFuture()) self.resync_started = now;
      const absl::Duration done = now - self.resync_started;
      if (done >= resync_time_) {
        self.missed = false;
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
  if (!copy.missed) return DataState::kUpToDate;
  return copy.resync_started != absl::InfiniteFuture() ? DataState::kSyncing
                                                       : DataState::kOutdated;
}

uint8_t DataOracle::Percent(NodeIndex n, ModuleIndex m) const { return copies_[n][m].percent; }

}  // namespace duet::sim
