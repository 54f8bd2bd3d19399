#include "engine/replication/repl_messages.h"

#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"

namespace duet {

std::string DescribeReplMessage(const ReplMessage& message) {
  return std::visit(
      Overloaded{
          [](const ReplHello& h) {
            return absl::StrCat("hello epoch ", h.epoch, " answers ", h.answers, " current ",
                                h.gens.current, " bitmap ", h.gens.bitmap,
                                h.primary ? " primary" : "", h.inconsistent ? " inconsistent" : "",
                                h.crashed ? " crashed" : "", h.dirty ? " dirty" : "",
                                h.alone_acked ? " alone-acked" : "", h.discard ? " discard" : "",
                                h.joined ? " joined" : "", h.disk_failed ? " disk-failed" : "",
                                h.keep_aside_failed ? " keep-aside-failed" : "", " zone-size ",
                                h.zone_size, " stream-start ", h.stream_start);
          },
          [](const ReplTargetZones& z) {
            return absl::StrCat("target zones '", z.path, "' count ", z.zones.size(),
                                z.digests.empty() ? "" : " with digests", z.last ? " last" : "");
          },
          [](const ReplWrite& w) {
            return absl::StrCat("write lsn ", w.lsn, " ", MutationKindName(w.mutation.kind), " ",
                                w.mutation.path, w.mutation.path2.empty() ? "" : " -> ",
                                w.mutation.path2, " @", w.mutation.offset, " +",
                                w.mutation.kind == MutationKind::kFallocate
                                    ? absl::StrCat(w.mutation.length, " ",
                                                   FallocateModeName(w.mutation.fallocate_mode))
                                    : absl::StrCat(w.mutation.data_size()));
          },
          [](const ReplAck& a) {
            std::string text = absl::StrCat("ack done ", a.done_lsn, " durable ", a.durable_lsn);
            for (const LsnRange& r : a.done_after) {
              absl::StrAppend(&text, " +", r.first);
              if (r.last != r.first) absl::StrAppend(&text, "-", r.last);
            }
            return text;
          },
          [](const ResyncBlock& b) {
            return absl::StrCat(
                "block ", b.block_id, " ", b.path, " zone ", b.zone, " read_lsn ", b.read_lsn,
                " kind ", static_cast<int>(b.kind), " size ", b.file_size, b.hole ? " hole" : "",
                b.hole_zones > 1 ? absl::StrCat(" of ", b.hole_zones, " zones") : "",
                b.hole_ranges.empty() ? ""
                                      : absl::StrCat(" ", b.hole_ranges.size(), " holes in it"),
                b.link_of.empty() ? "" : " link of ", b.link_of,
                b.names_under ? " with the names under it" : "");
          },
          [](const ResyncBlockAck& a) {
            return absl::StrCat("block ack ", a.block_id, a.stale ? " stale" : "",
                                a.durable ? " durable" : "");
          },
          [](const ResyncSame& s) {
            return absl::StrCat("same ", s.block_id, " ", s.path, " zone ", s.zone);
          },
          [](const ResyncDone& d) {
            return absl::StrCat("resync done ", d.current, " requests seen ", d.requests_seen);
          },
          [](const ReplApplyOutcome& o) {
            return absl::StrCat("lsn ", o.lsn, o.refused ? " refused" : " applied",
                                " by the sender");
          },
      },
      message);
}

}  // namespace duet
