// The wire format: turns the messages of engine/messages.h and
// engine/replication/repl_messages.h into FlatBuffers frames (schema in engine/wire/duet.fbs)
// and back. Nothing else in Duet encodes or decodes a frame.
//
// A frame is a size-prefixed FlatBuffer: a 4-byte little-endian length of the rest, the
// "DUET" file identifier, then the `Frame` table. The prefix lets a stream reader cut frames
// (read 4 bytes, refuse a length above the channel's frame limit - 4, read the rest) and lets
// the decoder reject a truncated or over-long frame exactly. Authentication (HMAC, sequence
// numbers) wraps the frame in the adapters and is checked before the frame reaches the decoder.
//
// Decoding never trusts the input: size limit first (kMaxHeartbeatBytes for peer frames), then
// flatbuffers::Verifier with bounded depth and table count, then the semantic checks listed at
// DecodePeer and DecodeReplication. Every error is an absl::InvalidArgumentError whose message says
// what is wrong. No exceptions are thrown.
#ifndef DUET_ENGINE_WIRE_CODEC_H_
#define DUET_ENGINE_WIRE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config.h"
#include "engine/messages.h"
#include "engine/replication/repl_messages.h"

namespace duet::wire {

// Largest frame DecodeWitness accepts, size prefix included.
inline constexpr size_t kMaxFrameBytes = size_t{1} << 20;
// Versions this build writes; a frame of any other version is refused with "peer speaks wire
// version X, this build Y", which the receiver logs as the reason it resets the replication
// connection (or drops the datagram).
//
// Replication frames (ReplHello ... ReplApplyOutcome): 4. Version 1 frames lacked a
// mutation's rename flags and fallocate range and a resync block's hole and link_of, which a
// version-1 build would ignore (applying an exchange as a plain rename, a hole as nothing);
// version 2 frames carried a write's and a resync block's data inside the FlatBuffer, where
// version 3 sends it after it (Frame.tail_bytes, ReplicationParts below), and lacked
// ReplApplyOutcome (without which a secondary that refused a write would wait for the
// primary's outcome until the replication timeout dropped it) and the resync digests.
// Version 4 frames are version 3's, but a ReplTargetZones also goes from the source to the
// target (the zones the source's own crash left hot, which the target answers with its
// digests and a second list end): a version-3 target ignores it and the source would wait
// for that end forever. Version 5 frames are version 4's, but a hole ResyncBlock may cover a
// run of zones (hole_zones): a version-4 target would punch its first zone only and
// acknowledge the block, and the source would take the whole run as sent. Two builds of different
// versions never replicate to each other. Each side refuses the other's Hello (which has no tail,
// so each build reads the other's version), so the module stays unattached, as with a broken
// replication connection: the primary tracks its writes for a resync once both run the same
// version.
inline constexpr uint16_t kWireVersion = 5;
// Peer (heartbeat, swap request) and witness frames: 1. A pair whose heartbeats failed over a
// version would take each other for dead (a split brain without a witness), so they stay at 1
// while their tables only gain fields an older build may ignore and a newer one reads as
// their default from an older build (ModuleView.app_failed).
inline constexpr uint16_t kPeerWireVersion = 1;

// Heartbeat size. A heartbeat carries a view of every module and travels in one UDP datagram:
// at most 65507 bytes (IPv4), of which the datagram authentication takes 72 (a 40-byte header
// and a 32-byte HMAC tag: kDatagramOverheadBytes in adapters/net/datagram_auth.h). 65435 bytes
// are left; the frame limit keeps 923 of them spare.
//
// Largest peer frame (heartbeat or swap request) DecodePeer accepts, size prefix included.
inline constexpr size_t kMaxHeartbeatBytes = size_t{63} << 10;  // 64512
// Most modules one heartbeat may carry: a valid config's limit (engine/config.h).
inline constexpr size_t kMaxModules = kMaxModulesPerPair;
// Longest module (and cluster) name on the wire, in bytes. The config allows shorter names
// only (kMaxNameBytes); the heartbeat bound below holds for names this long.
inline constexpr size_t kMaxModuleNameBytes = 128;
// Most bytes one module adds to an encoded heartbeat, read off the FlatBuffers layout
// (EncodePeer writes every non-default field): its offset in the modules vector (4); its name
// (4-byte length, the bytes, a NUL, up to 3 bytes of padding); its ModuleView table (4-byte
// vtable offset, 8-byte term, 4-byte name offset, 8 one-byte fields, up to 7 + 3 bytes of
// alignment padding); and its own 24-byte vtable (10 fields), written unless an earlier module
// set the same fields. That is name_bytes + 70. (Measured with 9 fields: 164 bytes a module
// with 128-byte names when all set the same fields, and 256 such modules whose set fields
// differ, a local search over which fields each sets, reached 46,336 bytes, 181 a module.)
constexpr size_t MaxHeartbeatModuleBytes(size_t name_bytes) {
  return 4 + (4 + name_bytes + 1 + 3) + (4 + 8 + 4 + 8 + 7 + 3) + 24;
}
// Most bytes of a heartbeat besides its modules (size prefix, root offset, identifier, the
// Frame and Heartbeat tables and their vtables, the modules vector's length): measured 104
// with every field set, bounded with room to spare.
inline constexpr size_t kMaxHeartbeatFixedBytes = 256;
// 256 + 256 * 198 = 50,944 bytes: 256 modules leave ~53 bytes a module for future ModuleView
// fields (324 modules would fill the limit today).
static_assert(kMaxHeartbeatFixedBytes +
                      kMaxModules * MaxHeartbeatModuleBytes(kMaxModuleNameBytes) <=
                  kMaxHeartbeatBytes,
              "the largest valid heartbeat must fit kMaxHeartbeatBytes");
static_assert(kMaxNameBytes <= kMaxModuleNameBytes,
              "every name a valid config allows must pass the decoder");

// Replication limits. File data travels on the replication connection: its frames are larger.
// Most data bytes in one write mutation (the adapter splits larger writes).
inline constexpr size_t kMaxWriteBytes = size_t{4} << 20;
// Most data bytes in one resync block: one zone, so a zone_size above this cannot resync.
inline constexpr size_t kMaxResyncBlockBytes = size_t{4} << 20;
// Most zones one ReplTargetZones message may list (8 MiB of zone numbers).
inline constexpr size_t kMaxTargetZones = size_t{1} << 20;
// A ReplTargetZones with digests (resync by digest, ReplTargetZones::digests): each digest is
// 1 to kMaxDigestBytes bytes, all of one size, and such a message lists at most
// kMaxDigestedZones zones (512 KiB of zone numbers and at most 4 MiB of digests). Both are
// part of version 3 (the data-by-reference frames came in the same release); a ResyncSame
// goes only to a target that sent digests.
inline constexpr size_t kMaxDigestBytes = kMaxZoneDigestBytes;
inline constexpr size_t kMaxDigestedZones = kMaxDigestsPerRequest;
// Longest path (and symlink target) on the wire, in bytes: Linux's PATH_MAX.
inline constexpr size_t kMaxPathBytes = 4096;
// Largest frame DecodeReplication accepts, size prefix included: the largest valid
// ReplTargetZones (kMaxTargetZones zones, 8 MiB) or ResyncBlock/ReplWrite (4 MiB of data, two
// paths and at most 1 MiB of xattrs) with 64 KiB of headroom for the tables around them.
inline constexpr size_t kMaxReplicationFrameBytes = (size_t{8} << 20) + (size_t{64} << 10);

// A replication frame in two parts: the FlatBuffers frame (`head`) and the data of a write or
// resync block (`tail`; null when the message has none, or empty data, which stays in the
// head). The encoder hands the message's own Payload on as the tail, uncopied: the link sends
// it as one more buffer of its gathered write, and a receiver can read it straight into the
// buffer the decoded Payload keeps. The head's Frame.tail_bytes announces the tail's size;
// head and tail joined are the bytes EncodeReplication returns.
struct ReplicationParts {
  std::vector<uint8_t> head;
  Payload tail;
};

// Encoders. The message must be one the matching decoder accepts (the engine only builds such
// messages); an invalid one is encoded anyway and the receiver rejects it.
std::vector<uint8_t> EncodePeer(const PeerMessage& message);
std::vector<uint8_t> EncodeWitness(const WitnessMessage& message);
ReplicationParts EncodeReplicationParts(const ReplMessage& message);
// The parts joined into one buffer (a copy of the tail): for tests, fuzzing and tools.
std::vector<uint8_t> EncodeReplication(const ReplMessage& message);

// Decoders. DecodePeer refuses a frame above kMaxHeartbeatBytes and DecodeWitness one above
// kMaxFrameBytes before reading it. Besides the frame's structure they check that: the version is
// kPeerWireVersion; the frame holds a message of this channel (a witness message given to
// DecodePeer is rejected, and the reverse); enum values are known; node indices are 0 or 1; module
// names are present, non-empty and at most kMaxModuleNameBytes; a heartbeat has at most kMaxModules
// modules, no module twice, sync_percent <= 100 and echo_sent_at_ns >= -1; a lease duration is >=
// 0.
absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame);
absl::StatusOr<WitnessMessage> DecodeWitness(std::span<const uint8_t> frame);

// Replication decoder. It rejects frames above kMaxReplicationFrameBytes and peer or witness
// messages (which the other two decoders reject in turn), and checks, besides the version
// (kWireVersion):
//  - module names as above; enum values (MutationKind, PathKind) known;
//  - a ReplHello carries generations; a ReplWrite carries a mutation and has lsn > 0;
//  - every path is relative: non-empty, no leading '/', no empty, "." or ".." component, no
//    NUL byte, at most kMaxPathBytes. Empty only for an fsync (the whole tree) and for the
//    ReplTargetZones that ends the list (`last`; it then lists no zones);
//  - a rename or link has a path2 that is such a path; only a rename has rename flags, and
//    they are noreplace, exchange or neither (never unknown bits); a symlink has a target (its
//    path2, or a ResyncBlock's link_target) kept verbatim: non-empty, no NUL, at most
//    kMaxPathBytes, but absolute or ".." allowed; other mutation and path kinds have no path2 or
//    link_target;
//  - only a write (at most kMaxWriteBytes) or setxattr carries data; a write or truncate ends at or
//    below INT64_MAX (off_t), as does a ResyncBlock's file_size; a ResyncBlock's data is at
//    most kMaxResyncBlockBytes;
//  - a mode (a mutation's or a ResyncBlock's) is permission bits only, at most 07777; only a
//    setattr has an attribute mask, and it holds only the bits of file_attributes.h;
//  - only a write has the sync flag (O_SYNC/O_DSYNC); only a mknod has a node kind, a FIFO
//    or a socket;
//  - a setxattr or removexattr has an xattr name: non-empty, no NUL, at most
//    kMaxXattrNameBytes (255); a setxattr's value (its data) is at most kMaxXattrValueBytes
//    (64 KiB) and its flags create, replace or neither; no other kind has a name or flags;
//  - an xattr set (a replace-xattrs mutation's, a ResyncBlock's of zone 0, never another
//    block's) is sorted by name without repeats, each entry as above, at most
//    kMaxXattrSetBytes (1 MiB) of names and values;
//  - a ReplAck's done_after holds at most kMaxAckRanges ranges (two numbers each, 8-byte
//    aligned in the frame), each first <= last, all after done_lsn, ascending and disjoint;
//  - a ReplTargetZones lists at most kMaxTargetZones zones, 8-byte aligned in the frame; with
//    digests, at most kMaxDigestedZones zones and exactly one digest each, all of its
//    digest_bytes (1 to kMaxDigestBytes); a ResyncSame names a path as above;
//  - only a fallocate has a length and a mode: the length > 0, the range ending at or below
//    INT64_MAX, the mode one of those ValidFallocateMode accepts (mutation.h);
//  - a ResyncBlock that says hole is a file's zone with no data (absent, not even empty)
//    and no link_of; only a hole covers more than one zone (hole_zones, absent for one, never
//    1, the run's last zone index below 2^64); a block's hole ranges lie within its data,
//    ascending, not touching, none empty, 8-byte aligned in the frame.
//  - a tail (the data after the head) is exactly Frame.tail_bytes long and belongs to a write
//    or a ResyncBlock whose table holds no data: a tail of any other message, a tail beside
//    data in the table, or a size other than announced (a truncated or padded tail) is
//    refused; the tail's size is held to the message's data limit, and head and tail
//    together to kMaxReplicationFrameBytes, as the joined frame.
// The decoded write's or block's Payload is `tail` itself (never copied); data inside the
// head is copied out of it.
absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> head, Payload tail);
// One joined buffer (EncodeReplication's): cut after the head's size prefix, the rest copied
// into the tail. Errors as above.
absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> frame);

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_CODEC_H_
