// The metadata record codec: turns what a node persists (engine/actions.h PersistModule and
// PersistIncarnation, and a PersistReplica batch of ReplicaRecords) into bytes a metadata
// store writes, and back. Schema: engine/wire/records.fbs. Nothing else encodes a record.
//
// An encoded record is a size-prefixed FlatBuffer (4-byte little-endian length of the rest)
// with the "DREC" identifier and a version, so a cut or over-long record is refused exactly;
// checksums and torn-write handling belong to the store (adapters/metadata). Decoding never
// trusts the bytes (a disk can return anything): size limit, flatbuffers::Verifier, then the
// checks listed at DecodeRecord. Every error is an absl::InvalidArgumentError saying what is
// wrong. No exceptions.
#ifndef DUET_ENGINE_WIRE_RECORD_CODEC_H_
#define DUET_ENGINE_WIRE_RECORD_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/actions.h"
#include "engine/replication/replica_state.h"

namespace duet::wire {

// Version written by this build. A record of a version from kOldestRecordVersion on is read
// (an upgraded node reads the metadata it wrote before); a newer one is refused, as a
// corrupt record is (the module waits for the admin): a downgraded build would misread it.
// 2: journal mutations carry the data model's fields (owners, times, xattrs, node kinds).
// 3: a journal mutation is duet.fbs's Mutation table (rename flags and all, one mapping:
//    mutation_codec.h); HotAdd and HotRemove cover a run of zones (`count`).
inline constexpr uint16_t kRecordVersion = 3;
inline constexpr uint16_t kOldestRecordVersion = 2;
// Largest encoded record DecodeRecord accepts. A store splits larger replica batches where
// it may (a snapshot); an engine batch is far smaller (a handful of records per step).
inline constexpr size_t kMaxRecordBytes = size_t{64} << 20;
// Most replica records in one encoded batch.
inline constexpr size_t kMaxBatchRecords = size_t{1} << 20;
// Longest path in a record, in bytes (as the wire: Linux's PATH_MAX).
inline constexpr size_t kMaxRecordPathBytes = 4096;

// One record as a store keeps it. A batch is what one PersistReplica carries: the store
// writes it as one record, so it is recovered all or nothing (adapter contract C4).
using ReplicaBatch = std::vector<ReplicaRecord>;
using StoredRecord = std::variant<PersistedModule, PersistIncarnation, ReplicaBatch>;

std::vector<uint8_t> EncodeRecord(const StoredRecord& record);

// Besides the structure, checks: the version is kOldestRecordVersion to kRecordVersion; the
// body is present and of a known type; a module's owner is 0 or 1; a batch has at most
// kMaxBatchRecords entries, each with a known body; every path present where the record needs one,
// non-empty, without NUL, at most kMaxRecordPathBytes (a symlink target may be anything but empty
// or NUL-bearing); MarkDirty has first <= last; HotAdd and HotRemove at least one zone, not past
// the largest zone number; a journal mutation is a namespace change (not a write, fsync or
// fallocate) that passes the checks of a replicated one (codec.h DecodeReplication: relative paths,
// fields only where its kind has them, within their limits); generations are present in
// SetGenerations.
absl::StatusOr<StoredRecord> DecodeRecord(std::span<const uint8_t> bytes);

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_RECORD_CODEC_H_
