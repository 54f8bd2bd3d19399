// The adapter contract: what every driver of a Node (duetd's adapters, the simulator, the test
// harnesses) must do, and what it may count on. The engine is correct only under these rules;
// the simulator (sim/cluster.cc) is written to take every freedom they leave, so that a run
// that passes there holds for an adapter that keeps them. DESIGN.md §2 and §7 say why.
//
// Stepping
//  C1. One thread owns a Node. Inputs are given to Node::Step one at a time with the monotonic
//      time at which they happened, never earlier than the previous call's. The driver calls
//      Step(Tick) once NextDeadline() is reached (it may be late; never early by design).
//  C2. Node::Start runs once per process, before any Step; its `lost_unsynced` says whether
//      the machine restarted (pages not synced are gone) or only the daemon did.
//
// Actions (engine/actions.h)
//  C3. The actions of one step are carried out in the order given. A driver may start a slow
//      one and go on, except where C4 or C5 says it must wait.
//  C4. PersistModule, PersistIncarnation and PersistReplica are durable (written and fsync'ed)
//      before any later action of the same step is carried out, and before any later step's
//      actions: a later message or promotion may depend on them. The records of one
//      PersistReplica are applied all or nothing at recovery (a torn tail is dropped whole).
//      A Persist has no failure input, by design: a node that cannot record what it decided
//      cannot act on it, and every module's later actions may depend on it. A driver whose
//      Persist fails stops the process (fail-stop) without carrying out any later action
//      (duetd exits 3, its guard releases VIPs and mounts), so the peer takes over as after a
//      crash; the next start recovers exactly the records made durable.
//  C5. SetWritable{false} takes effect before the next action: it is how a primary fences
//      itself. PreserveDivergent is a disk operation of its module (C7, C8): the ones issued
//      after it (the resync that overwrites those paths) see its copy done, and it is
//      answered with DivergentPreserved. The engine records the branch as kept aside only
//      then, so a crash before the copy is done keeps it aside again at the next session. An
//      adapter that cannot keep every path aside (ENOSPC, EIO, EACCES...) removes what it
//      copied, answers with the error, and then carries out none of the module's later
//      operations up to its next PreserveDivergent: it answers each with NotCarriedOut()
//      (engine/inputs.h), in order, having changed nothing. That next one it carries out as
//      any other (with no paths it keeps nothing and succeeds), and the module's operations
//      run again after it. The engine, taking the failure in, issues a PreserveDivergent with
//      no paths at once: so exactly the operations it issued before it knew are not carried
//      out, and it counts none of them as a disk fault. Only the module waits (its resync
//      is refused until a retry keeps the branch aside); the process and other modules run on.
//  C6. Sends: SendReplication goes on the one ordered, reliable replication connection; if it
//      breaks, the driver gives ReplicationDisconnected and nothing sent after the break is
//      delivered. SendPeer and SendWitness are datagrams: they may be lost, duplicated or
//      reordered, and the engine copes. Every message is encoded by engine/wire/codec.h
//      within its documented size bound.
//
// Disk operations of a module (ApplyMutation, ReadZone, ListTree, PreserveDivergent)
//  C7. Per module, an operation is either keyed by one file or a barrier (DiskOrderOf,
//      engine/replication/mutation.h). Barriers: the namespace changes (create, mkdir,
//      mknod, symlink, link, unlink, rmdir, rename, a resync's remove-tree), a whole-tree
//      flush (fsync of path ""), ListTree and PreserveDivergent. Keyed: write,
//      truncate, fallocate, setattr, the xattr changes, fsync of one path, ReadZone. A
//      barrier starts once every operation issued before it is done and holds every one
//      issued after it until it is done. Between two barriers, operations on different
//      files may run at once and complete in any order; operations on the same file run in
//      the order issued, each one's effects visible to the next (a ReadZone issued after an
//      ApplyMutation of the file reads its bytes). Operations of different modules are
//      independent. Each completion (MutationApplied, ZoneRead, TreeListed,
//      DivergentPreserved) is given when its operation is done, so a barrier's completion
//      comes after those of everything issued before it.
//      "The same file": an operation's keys are its path and, if the path names an object
//      when the operation becomes runnable (no barrier before it pending), that object's
//      device and inode; two operations conflict when they share a key. Why this is enough:
//      between two barriers no name changes except a write, truncate or fallocate creating
//      its own missing path (and, for a resync's block, the missing directories above it,
//      C13: any other operation of the stretch through them found them missing, or makes
//      them too and takes them as found), so every name resolves to the same object for the
//      whole stretch; two names of one inode (hard links) share the inode key and stay ordered on
//      both nodes (else writes through the two names to overlapping bytes could land in
//      different orders on the two copies); and an operation that found its path missing
//      shares the path key with every later one through that name, while another name can
//      reach the object it creates only through a link, a barrier. A store without inodes
//      (the simulator's, whose links are copies) keys by path alone. For the same reasons an
//      adapter may find a name's object once per stretch between two barriers and reuse
//      what it found (a name found missing then stays keyed by its path alone). An fsync of a
//      directory is keyed by the directory: the entries beneath it change only by barriers
//      (done before it) or by a write creating its missing file, which the primary never
//      issues (its creates are kCreate) and a resync covers with its final flush.
//      Per-file durability: an fsync of a path or a durable apply makes that file durable
//      (fdatasync/fsync of the file and of the directories the store changed), never the
//      tree: only a barrier flush covers everything issued before it.
//      A ReadZone may ask for the zone's digest (ZoneReadContent, engine/actions.h): the
//      adapter computes it in the same operation from the bytes and holes it reads (duetd:
//      SHA-256, adapters/store/zone_digest.h) and answers it in ZoneRead::digest. Both nodes
//      of a pair compute it alike; the engine only compares two digests for equality.
//      A zone read as a hole says where the hole ends (ZoneRead::hole_end: where the file's
//      data resumes, or its size), read in the same operation; the engine sends the zones up
//      to there that it plans to send as one block.
//  C8. Each operation is answered exactly once while the process lives, failures included,
//      with the errno as a Status (ENOSPC as ResourceExhausted, EIO as DataLoss...). An
//      ApplyMutation with `durable` is answered only after fdatasync of what it changed (fsync
//      of path "": everything the module's operations changed, by syncfs or by syncing each
//      file and directory changed and not yet synced). Answers for a previous process's operations
//      are never given to a new Node. A failed ApplyMutation is marked a refusal (AsRefusal,
//      engine/inputs.h) only if it changed nothing this or a later operation can see: the
//      adapter decides it before its first change (a write that may need new blocks reserves
//      them first, so a full disk refuses it whole; what a refused apply created it removes).
//      Never a failed flush. The engine keeps a pair whose two copies refused a write in sync.
//      An operation not carried out under C5 is answered NotCarriedOut(), never a refusal.
//  C9. Paths are relative to the module's root and never leave it ("..", absolute paths and
//      symlinks are resolved beneath the root, or refused).
//
// The application's calls
//  C10. Each LocalMutation gets exactly one CompleteLocal with its op_id, possibly after
//      many steps; the application's call returns only then, with that status. op_ids are
//      unique per module within a process. CompleteLocals come in the order the engine
//      decides (engine/replication/completion_order.h), not the order of the LocalMutations:
//      one file's mutations complete in the order given, an fsync of a path after what was
//      given before it to that path and beneath it, a namespace change or a whole-tree fsync
//      after everything given before it; mutations of different files complete in any order
//      (as on a local disk, a crash may keep a later one and lose an earlier one that had not
//      completed: the peer's copy holds every mutation whose call completed).
//
// Time and identity
//  C11. Clocks: the driver's monotonic clock. Drift between the two nodes' clocks is bounded
//      by what the configuration's drift_margin covers; the witness lease relies on it.
//  C12. Messages are given to the engine only once authenticated and decoded (wire/codec.h);
//      a frame that fails either is dropped, counted and logged by the adapter.
//
// The data model: what a LocalMutation says (engine/replication/mutation.h)
//  C13. Attributes (engine/replication/file_attributes.h): a create, mkdir or symlink carries
//      the creator's uid and gid (after the kernel's setgid-directory rule) and the mode
//      after the umask; chmod, chown and utimensat are one kSetattr whose attr_mask names
//      what it sets. The primary's adapter resolves UTIME_NOW to its own CLOCK_REALTIME
//      before the LocalMutation (the secondary sets that value, never its own "now");
//      UTIME_OMIT leaves the bit out of the mask. Modes are permission bits only (<= 07777).
//      A write of bytes, a truncate, a fallocate and a new entry carry the primary's
//      CLOCK_REALTIME at the call in mtime_ns (StampsChangeTime); every store sets the
//      entry's mtime (and a new entry's atime) to it after the change, so the copies agree.
//      Other implicit times (atime on read, a directory's times) are each node's own; a
//      resync sets them.
//      A ReadZone reports the path's mode, uid, gid, atime and mtime (lstat: a symlink's own),
//      and for a regular file with more than one name its device and inode number, so that
//      a full resync sends the other names as links (ResyncBlock::link_of), not copies.
//      A create or mkdir of a name that already exists succeeds and changes nothing (a
//      resync's replay may meet a name an earlier replay or the target itself made), and so
//      does removing a name that is gone or lies under a missing directory. Otherwise a store
//      answers as the system call does (the simulator's too): a name under a missing
//      directory is NotFound (ENOENT), under a non-directory FailedPrecondition (ENOTDIR);
//      rmdir of a non-directory or of a directory with names, unlink of a directory, and a
//      rename onto a name of the other kind or onto a directory with names are
//      FailedPrecondition (ENOTDIR, ENOTEMPTY, EISDIR); a rename of a directory under itself
//      is InvalidArgument. The application meets these before the engine (the kernel's
//      lookup, the mount's ENOTEMPTY check), but not a race with another call in flight.
//      One exception, a resync's block (Mutation::make_parents): the source sends each block
//      once its read completes, and C7 lets reads of different files complete in any order,
//      so a name's block may reach the target before its directory's. The store then makes
//      the directories missing above the name first, owned by root with mode 0700
//      (kMadeParentMode); the directory's own block (the copies differ there, so the plan
//      holds it) gives it the source's owner, mode, times and xattrs. Root's and 0700: until
//      then nothing under it is open to anyone but root on the secondary, whatever the
//      source's modes. Not parent-first order from the engine instead: the source would hold
//      each completed read behind its directories', and a directory the target asks for after
//      the names under it went would still come late. The stream's mutations never make a
//      directory: there a missing one means the copies differ, and its failure starts a resync.
//  C14. Special files: the adapter refuses mknod of a block or character device with EPERM
//      before any LocalMutation (a device node on a replicated tree would hand the peer's
//      hardware to whoever takes over). FIFOs and sockets are a kMknod: names with
//      attributes only; what passes through them never replicates.
//  C15. Open-unlinked files: paths are the engine's only address. When the application
//      removes the last name of a regular file it still has open through the mount, the
//      adapter keeps the file under the hidden directory `.duet-unlinked/` at the root of
//      that mount (one per replicated directory of the module, made on demand by a kMkdir)
//      under a unique name (as NFS clients do with .nfsXXXX): an unlink becomes a kRename
//      there, a plain rename over the file a kLink there followed by the rename (so the name
//      never goes missing). Later changes through the open handles name the hidden path. At
//      the last release the adapter gives a kUnlink of the hidden name. The engine sees only
//      renames, links and unlinks; the directory replicates like any other. Each time its
//      mount becomes writable (so at a node's start once it is primary, and at a takeover),
//      the adapter empties `.duet-unlinked/` with kUnlinks, but for entries still open
//      through that mount, which go at their last release: no handle survives a restart or
//      the node it was opened on. The engine has no part in it. The adapter hides the
//      directory from the application (readdir, lookup) and refuses its name with EPERM.
//  C16. O_APPEND: the engine never sees "append". The primary's adapter assigns each append
//      its offset from its own per-file size, which counts every mutation it has already
//      given the engine (issued, not only completed), before the LocalMutation; writes to
//      one file are given in the order their offsets were assigned. The kernel's own size is
//      not used (earlier writes may still be in flight).
#ifndef DUET_ENGINE_ADAPTER_CONTRACT_H_
#define DUET_ENGINE_ADAPTER_CONTRACT_H_

#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/node.h"

#endif  // DUET_ENGINE_ADAPTER_CONTRACT_H_
