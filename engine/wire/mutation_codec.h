// One mapping between a Mutation (engine/replication/mutation.h) and duet.fbs's `Mutation`
// table, for both places that hold one: a ReplWrite frame (codec.cc) and a journal entry of
// the metadata records (record_codec.cc, since record version 3). Both read a mutation with
// the same checks (listed at codec.h DecodeReplication), so a mutation the engine journals
// is one it could send, field for field. Internal to engine/wire.
#ifndef DUET_ENGINE_WIRE_MUTATION_CODEC_H_
#define DUET_ENGINE_WIRE_MUTATION_CODEC_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/replication/mutation.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {
namespace fb {
struct Mutation;
}  // namespace fb
namespace records {
struct JournalMutation;
}  // namespace records

// What holds the mutation: a journal entry must be a namespace change (no write, fsync or
// fallocate: those are tracked as dirty zones, never journalled).
enum class MutationHolder { kReplWrite, kJournal };

// Every field; empty strings and sets and a null payload are left out.
flatbuffers::Offset<fb::Mutation> BuildMutation(flatbuffers::FlatBufferBuilder& builder,
                                                const Mutation& m);

// `holder_name` starts every error: "ReplWrite 'db'", "journal entry". The Payload of a
// decoded mutation owns a copy of its bytes.
absl::StatusOr<Mutation> ReadMutation(const fb::Mutation& in, MutationHolder holder,
                                      std::string_view holder_name);
// A journal entry of a version-2 record (records.fbs JournalMutation: the same fields but
// fallocate's, in another order), under the same checks as a journal's Mutation table.
absl::StatusOr<Mutation> ReadMutation(const records::JournalMutation& in,
                                      std::string_view holder_name);

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_MUTATION_CODEC_H_
