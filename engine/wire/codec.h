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
// Decoding never trusts the input: size limit first, then flatbuffers::Verifier with bounded
// depth and table count, then the semantic checks listed at DecodePeer and DecodeReplication.
// Every error is an absl::InvalidArgumentError whose message says what is wrong. No exceptions
// are thrown.
#ifndef DUET_ENGINE_WIRE_CODEC_H_
#define DUET_ENGINE_WIRE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/messages.h"
#include "engine/replication/repl_messages.h"

namespace duet::wire {

// Largest frame DecodePeer and DecodeWitness accept, size prefix included.
inline constexpr size_t kMaxFrameBytes = size_t{1} << 20;
// Version written by this build; a frame with any other version is rejected. The replication
// messages were added as new members at the end of the Message union, which leaves every peer
// and witness frame byte for byte as before: version 1 still (a build without them rejects
// them as unknown message types, and never gets them: they travel on their own connection).
inline constexpr uint16_t kWireVersion = 1;
// Most modules one heartbeat may carry.
inline constexpr size_t kMaxModules = 4096;
// Longest module name on the wire, in bytes. With kMaxModules this keeps the largest valid
// heartbeat (about 0.7 MiB) under kMaxFrameBytes; the config must not allow longer names.
inline constexpr size_t kMaxModuleNameBytes = 128;

// Replication limits. File data travels on the replication connection: its frames are larger.
// Most data bytes in one write mutation (the adapter splits larger writes).
inline constexpr size_t kMaxWriteBytes = size_t{4} << 20;
// Most data bytes in one resync block: one zone, so a zone_size above this cannot resync.
inline constexpr size_t kMaxResyncBlockBytes = size_t{4} << 20;
// Most zones one ReplTargetZones message may list (8 MiB of zone numbers).
inline constexpr size_t kMaxTargetZones = size_t{1} << 20;
// Longest path (and symlink target) on the wire, in bytes: Linux's PATH_MAX.
inline constexpr size_t kMaxPathBytes = 4096;
// Largest frame DecodeReplication accepts, size prefix included: the largest valid
// ReplTargetZones (kMaxTargetZones zones, 8 MiB) or ResyncBlock/ReplWrite (4 MiB of data, two
// paths and at most 1 MiB of xattrs) with 64 KiB of headroom for the tables around them.
inline constexpr size_t kMaxReplicationFrameBytes = (size_t{8} << 20) + (size_t{64} << 10);

// Encoders. The message must be one the matching decoder accepts (the engine only builds such
// messages); an invalid one is encoded anyway and the receiver rejects it.
std::vector<uint8_t> EncodePeer(const PeerMessage& message);
std::vector<uint8_t> EncodeWitness(const WitnessMessage& message);
std::vector<uint8_t> EncodeReplication(const ReplMessage& message);

// Decoders. Besides the frame's structure they check that: the version is kWireVersion; the
// frame holds a message of this channel (a witness message given to DecodePeer is rejected,
// and the reverse); enum values are known; node indices are 0 or 1; module names are present,
// non-empty and at most kMaxModuleNameBytes; a heartbeat has at most kMaxModules modules, no
// module twice, sync_percent <= 100 and echo_sent_at_ns >= -1; a lease duration is >= 0.
absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame);
absl::StatusOr<WitnessMessage> DecodeWitness(std::span<const uint8_t> frame);

// Replication decoder. It rejects frames above kMaxReplicationFrameBytes and peer or witness
// messages (which the other two decoders reject in turn), and checks, besides the version:
//  - module names as above; enum values (MutationKind, PathKind) known;
//  - a ReplHello carries generations; a ReplWrite carries a mutation and has lsn > 0;
//  - every path is relative: non-empty, no leading '/', no empty, "." or ".." component, no
//    NUL byte, at most kMaxPathBytes. Empty only for an fsync (the whole tree) and for the
//    ReplTargetZones that ends the list (`last`; it then lists no zones);
//  - a rename or link has a path2 that is such a path; a symlink has a target (its path2, or a
//    ResyncBlock's link_target) kept verbatim: non-empty, no NUL, at most kMaxPathBytes, but
//    absolute or ".." allowed; other mutation and path kinds have no path2 or link_target;
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
//  - a ReplTargetZones lists at most kMaxTargetZones zones, 8-byte aligned in the frame.
// The Payload of a decoded write or block owns a copy of the frame's data bytes.
absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> frame);

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_CODEC_H_
