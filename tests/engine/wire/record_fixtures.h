// Random replica records and a field-by-field comparison of durable states, for the record
// codec and ToRecords tests.
#ifndef DUET_TESTS_ENGINE_WIRE_RECORD_FIXTURES_H_
#define DUET_TESTS_ENGINE_WIRE_RECORD_FIXTURES_H_

#include <rapidcheck.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/replication/replica_state.h"

namespace duet {

inline constexpr uint32_t kFixtureZoneSize = 64 << 10;

// Few names, some nested, so that renames, removals and compaction meet.
inline const std::vector<std::string>& FixtureNames() {
  static const auto* names =
      new std::vector<std::string>{"a", "b", "c", "d/x", "d", "d/y", "e f", "é"};
  return *names;
}

inline ReplicaRecord MakeFixtureRecord(int type, int name, int name2, uint64_t a, uint64_t b) {
  const std::string& p = FixtureNames()[static_cast<size_t>(name) % FixtureNames().size()];
  const std::string& q = FixtureNames()[static_cast<size_t>(name2) % FixtureNames().size()];
  static constexpr MutationKind kKinds[] = {
      MutationKind::kTruncate,      MutationKind::kCreate,   MutationKind::kMkdir,
      MutationKind::kUnlink,        MutationKind::kRmdir,    MutationKind::kRename,
      MutationKind::kSymlink,       MutationKind::kLink,     MutationKind::kSetattr,
      MutationKind::kRemoveTree,    MutationKind::kSetxattr, MutationKind::kRemovexattr,
      MutationKind::kReplaceXattrs, MutationKind::kMknod};
  switch (type) {
    case 0:
      return record::SetGenerations{Generations{a | 1, b, {a ^ b, b / 3}}};
    case 1:
      return record::MarkDirty{p, a % 50, a % 50 + b % 20};
    case 2:
      return record::MarkClean{p, a % 70};
    case 3:
      return record::ClearDirty{};
    case 4: {
      const MutationKind kind = kKinds[b % std::size(kKinds)];
      const bool two = kind == MutationKind::kRename || kind == MutationKind::kLink ||
                       kind == MutationKind::kSymlink;
      Mutation m = MakeMutation(kind, p, two ? q : std::string());
      m.offset = kind == MutationKind::kTruncate ? a % (1 << 22) : 0;
      const bool creates = kind == MutationKind::kCreate || kind == MutationKind::kMkdir ||
                           kind == MutationKind::kSymlink || kind == MutationKind::kMknod;
      if (kind == MutationKind::kSetattr) {
        m.attr_mask = static_cast<uint32_t>(a % (kAllAttrs + 1));
        m.atime_ns = -static_cast<int64_t>(b % 1000000007);  // before 1970 too
        m.mtime_ns = static_cast<int64_t>(a % 1000000);
      }
      if (creates || kind == MutationKind::kSetattr) {
        m.mode = static_cast<uint32_t>(a % (kMaxModeBits + 1));
        m.uid = static_cast<uint32_t>(a >> 32);
        m.gid = static_cast<uint32_t>(b >> 32);
      }
      if (kind == MutationKind::kMknod) {
        m.node_kind = (a & 1) != 0 ? PathKind::kFifo : PathKind::kSocket;
      }
      if (kind == MutationKind::kSetxattr || kind == MutationKind::kRemovexattr) {
        m.xattr_name = "user.n" + std::to_string(a % 5);
      }
      if (kind == MutationKind::kSetxattr) {
        m.xattr_flags = static_cast<uint32_t>(b % 3);
        if (b % 4 != 0) m.data = MakePayload(std::string(b % 300, static_cast<char>(a)));
      }
      if (kind == MutationKind::kRename) m.rename_flags = static_cast<uint32_t>(b % 3);
      if (kind == MutationKind::kReplaceXattrs) {
        for (uint64_t i = 0; i < a % 4; ++i) {
          m.xattrs.push_back(
              Xattr{"trusted.x" + std::to_string(i), std::string(i * 7, static_cast<char>(b))});
        }
      }
      return record::Journal{m, ((b >> 8) & 3) == 0};
    }
    case 5:
      return record::HotAdd{p, a % 70};
    case 6:
      return record::HotRemove{p, a % 70};
    case 7:
      return record::ClearHot{};
    case 8:
      return record::SetInconsistent{(a & 1) != 0, (b & 1) != 0};
    case 9:
      return record::SetOutdated{(a & 1) != 0};
    case 10:
      return record::SetAloneAcked{};
    case 11:
      return record::Renamed{p, q, a % 3 == 0};
    case 12:
      return record::Removed{p};
    case 13:
      return record::Truncated{p, a % (1 << 23)};
    case 14:
      return record::SetLostUnsynced{(a & 1) != 0};
    case 15:
      return record::HotNameAdd{p};
    case 16:
      return record::HotNameRemove{p};
    case 17:
      return record::SetDiskFailed{(a & 1) != 0};
    case 18:
      return record::SetDrawnAlone{a % 3 == 0 ? 0 : a | 1};
    case 19:
      return record::SetJoined{(a & 1) != 0};
    case 20:
      return record::SetDivergencePreserved{a % 3 == 0 ? 0 : a | 1};
    default:
      return record::SetZoneSize{static_cast<uint32_t>(4096u << (a % 6))};
  }
}
inline constexpr int kFixtureRecordTypes = 22;

inline rc::Gen<ReplicaRecord> GenReplicaRecord() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange(0, kFixtureRecordTypes), rc::gen::inRange(0, 8),
                     rc::gen::inRange(0, 8), rc::gen::arbitrary<uint64_t>(),
                     rc::gen::arbitrary<uint64_t>()),
      [](const std::tuple<int, int, int, uint64_t, uint64_t>& t) {
        return MakeFixtureRecord(std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                                 std::get<4>(t));
      });
}

inline std::string DescribeZones(const ZoneMap& map) {
  std::ostringstream out;
  for (const auto& [path, zones] : map.files()) {
    out << path << ":";
    zones.ForEach([&](uint64_t z) { out << " " << z; });
    out << "; ";
  }
  return out.str();
}

// Every field; those of the data model (owners, atime, mask, xattrs, sync, node kind) only
// when one is set, so that a plain mutation reads as kind(path,path2,offset,mode,mtime).
inline std::string DescribeMutation(const Mutation& m) {
  std::ostringstream out;
  out << MutationKindName(m.kind) << "(" << m.path << "," << m.path2 << "," << m.offset << ","
      << m.mode << "," << m.mtime_ns;
  const bool model = m.uid != 0 || m.gid != 0 || m.atime_ns != 0 || m.attr_mask != 0 ||
                     !m.xattr_name.empty() || m.xattr_flags != 0 || m.data_size() != 0 || m.sync ||
                     m.node_kind != PathKind::kAbsent || !m.xattrs.empty() || m.rename_flags != 0;
  if (model) {
    out << ",owner " << m.uid << ":" << m.gid << ",atime " << m.atime_ns << ",mask " << m.attr_mask
        << ",xattr " << m.xattr_name << "/" << m.xattr_flags << "="
        << (m.data_size() != 0 ? *m.data : std::string("-")) << ",sync " << m.sync << ",node "
        << static_cast<int>(m.node_kind) << ",rename " << m.rename_flags << ",set";
    for (const Xattr& x : m.xattrs) out << " " << x.name << "=" << x.value;
  }
  out << ")";
  return out.str();
}

// Every field, as text: equal states describe equally, and a difference is readable.
inline std::string DescribeState(const ReplicaDurableState& s) {
  std::ostringstream out;
  out << "gens " << s.gens.current << "/" << s.gens.bitmap << "/" << s.gens.history[0] << ","
      << s.gens.history[1] << "\ndirty " << DescribeZones(s.dirty) << "\njournal";
  for (const Mutation& m : s.journal) out << " " << DescribeMutation(m);
  out << "\nhot " << DescribeZones(s.hot) << "\nhot_names";
  for (const std::string& n : s.hot_names) out << " " << n;
  out << "\nflags " << s.inconsistent << s.unflushed_only << s.outdated << s.alone_acked
      << s.lost_unsynced << s.disk_failed << " drawn " << s.drawn_alone << " joined " << s.joined
      << " zone " << s.zone_size << "\n";
  return out.str();
}

}  // namespace duet

#endif  // DUET_TESTS_ENGINE_WIRE_RECORD_FIXTURES_H_
