// The wire format: turns the messages of engine/messages.h into FlatBuffers frames (schema in
// engine/wire/duet.fbs) and back. Nothing else in Duet encodes or decodes a frame.
//
// A frame is a size-prefixed FlatBuffer: a 4-byte little-endian length of the rest, the
// "DUET" file identifier, then the `Frame` table. The prefix lets a stream reader cut frames
// (read 4 bytes, refuse a length above kMaxFrameBytes - 4, read the rest) and lets the decoder
// reject a truncated or over-long frame exactly. Authentication (HMAC, sequence numbers) wraps
// the frame in the adapters and is checked before the frame reaches the decoder.
//
// Decoding never trusts the input: size limit first, then flatbuffers::Verifier with bounded
// depth and table count, then the semantic checks listed at DecodePeer. Every error is an
// absl::InvalidArgumentError whose message says what is wrong. No exceptions are thrown.
#ifndef DUET_ENGINE_WIRE_CODEC_H_
#define DUET_ENGINE_WIRE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/messages.h"

namespace duet::wire {

// Largest frame either decoder accepts, size prefix included.
inline constexpr size_t kMaxFrameBytes = size_t{1} << 20;
// Version written by this build; a frame with any other version is rejected.
inline constexpr uint16_t kWireVersion = 1;
// Most modules one heartbeat may carry.
inline constexpr size_t kMaxModules = 4096;
// Longest module name on the wire, in bytes. With kMaxModules this keeps the largest valid
// heartbeat (about 0.7 MiB) under kMaxFrameBytes; the config must not allow longer names.
inline constexpr size_t kMaxModuleNameBytes = 128;

// Encoders. The message must be one the matching decoder accepts (the engine only builds such
// messages); an invalid one is encoded anyway and the receiver rejects it.
std::vector<uint8_t> EncodePeer(const PeerMessage& message);
std::vector<uint8_t> EncodeWitness(const WitnessMessage& message);

// Decoders. Besides the frame's structure they check that: the version is kWireVersion; the
// frame holds a message of this channel (a witness message given to DecodePeer is rejected,
// and the reverse); enum values are known; node indices are 0 or 1; module names are present,
// non-empty and at most kMaxModuleNameBytes; a heartbeat has at most kMaxModules modules, no
// module twice, sync_percent <= 100 and echo_sent_at_ns >= -1; a lease duration is >= 0.
absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame);
absl::StatusOr<WitnessMessage> DecodeWitness(std::span<const uint8_t> frame);

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_CODEC_H_
