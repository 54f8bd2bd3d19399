// Open-unlinked files (engine/adapter_contract.h C15): the names the mount gives a file whose
// last name the application removed while it still had the file open.
//
// The engine addresses files by path only, so such a file keeps a name the application
// never sees: the mount root's hidden directory `.duet-unlinked/`, one entry per file, until
// the last handle on it is released (MountCore's side of this is in unlinked_files.cc).
// Entries are named after the backing inode, the mount instance and a counter, so two
// files, two mounts of one process and two processes (a restart) never pick one name; the
// mount also skips a name that is taken.
//
// "Open" is the mount's count of handles, and the kernel releases a handle after close()
// returns: an unlink right after the last close may still find the file open, and hide it;
// the release that follows unlinks it. The same end, with two more mutations (libfuse's
// hide-on-unlink has the same window).
#ifndef DUET_ADAPTERS_FUSE_UNLINKED_FILES_H_
#define DUET_ADAPTERS_FUSE_UNLINKED_FILES_H_

#include <cstdint>
#include <string>

namespace duet {

// The hidden directory's name, at the root of the mount's backing directory.
inline constexpr char kUnlinkedDirName[] = ".duet-unlinked";

// Whether `name` in a directory is the hidden directory: only the mount root's is.
bool IsUnlinkedDirName(bool parent_is_mount_root, const char* name);

// The name of an entry of the hidden directory (without the directory): "<inode>.<instance>.
// <counter>", in hexadecimal. Distinct for distinct arguments.
std::string UnlinkedEntryName(uint64_t inode, uint64_t instance, uint64_t counter);

// The path of that entry relative to the mount root: ".duet-unlinked/<entry>".
std::string UnlinkedEntryPath(const std::string& entry);

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_UNLINKED_FILES_H_
