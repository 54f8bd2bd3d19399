// The bytes of a simulated file (or a symlink's target), held in fixed-size copy-on-write
// pages. Copying a FileData copies page pointers, not bytes; a page shared by two copies is
// copied only when one of them writes to it, and a page with a single owner is written in
// place. A null page is a hole and reads as zeros. Comparing two FileData is exact and cheap
// where they share pages: a pointer-equal page is equal without reading it. A write given as
// a shared buffer (a Payload, as the replication stream carries it) lends the pages it covers
// whole instead of copying them, so both simulated nodes hold the same bytes once.
#ifndef DUET_SIM_FILE_DATA_H_
#define DUET_SIM_FILE_DATA_H_

#include <array>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duet::sim {

class FileData {
 public:
  static constexpr uint64_t kPageSize = 4096;
  using Page = std::array<char, kPageSize>;
  // A page is either allocated by a FileData (as a mutable object, with OwnedPageDeleter: a
  // page with one owner may be written in place) or lent by a Payload (never written).
  using PageRef = std::shared_ptr<const Page>;
  static constexpr uint64_t kNoMismatch = ~uint64_t{0};

  FileData() = default;
  explicit FileData(std::string_view bytes) { Write(0, bytes); }

  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Byte i (< size()).
  char operator[](uint64_t i) const {
    const PageRef& page = pages_[i / kPageSize];
    return page ? (*page)[i % kPageSize] : '\0';
  }
  // As std::string::substr: up to n bytes from pos (<= size()).
  std::string substr(uint64_t pos, uint64_t n = std::string::npos) const;
  std::string ToString() const { return substr(0); }
  // The first offset in [offset, offset + bytes.size()) whose byte differs from `bytes`
  // (bytes past the end differ), or kNoMismatch.
  uint64_t FindMismatch(uint64_t offset, std::string_view bytes) const;

  // Writes `bytes` at `offset`, first extending the file with a hole up to `offset` +
  // bytes.size() if it is shorter.
  void Write(uint64_t offset, std::string_view bytes);
  // The same, lending `bytes`'s whole pages instead of copying them.
  void Write(uint64_t offset, const std::shared_ptr<const std::string>& bytes);
  // Truncates, or extends with a hole.
  void Resize(uint64_t size);
  // Makes [offset, offset + length) read as zeros without changing the size (nothing past
  // it): whole pages become holes, the bytes of pages it covers in part are zeroed.
  void PunchHole(uint64_t offset, uint64_t length);
  // Whether some page of [offset, offset + length) (clipped to the size) is not a hole.
  bool HasData(uint64_t offset, uint64_t length) const;
  // The first offset at or after `offset` (< size()) in a page that is not a hole, or size()
  // if none is: where the hole there ends, as SEEK_DATA says.
  uint64_t NextData(uint64_t offset) const;
  // The holes (whole pages) in [offset, offset + length) clipped to the size, as ranges
  // from `offset`.
  std::vector<std::pair<uint64_t, uint64_t>> Holes(uint64_t offset, uint64_t length) const;
  // Pages a write of `length` bytes at `offset` would allocate (holes, or past the end).
  uint64_t PagesToAllocate(uint64_t offset, uint64_t length) const;

  // Pages: page i holds bytes [i * kPageSize, (i + 1) * kPageSize); there are exactly
  // ceil(size() / kPageSize) of them, and the bytes of the last one past size() are zero.
  uint64_t page_count() const { return pages_.size(); }
  const PageRef& page(uint64_t i) const { return pages_[i]; }
  // Replaces page i (< page_count()) by `page` (null: a hole), taken from another FileData;
  // if it is the last page, its bytes past size() read as zeros.
  void SetPage(uint64_t i, PageRef page);
  // Pages that are not holes.
  uint64_t allocated_pages() const { return allocated_pages_; }

  friend bool operator==(const FileData& a, const FileData& b);
  friend bool operator==(const FileData& a, std::string_view b);

 private:
  struct OwnedPageDeleter {
    void operator()(Page* page) const { delete page; }
  };
  static bool Owned(const PageRef& page) {
    return std::get_deleter<OwnedPageDeleter>(page) != nullptr;
  }
  // Page i, made writable: allocated if a hole, copied if shared (left uninitialized instead
  // if the caller overwrites all of it).
  Page& MutablePage(uint64_t i, bool overwrite = false);
  // Zeroes the bytes of the last page past size(), copying the page only if one is not zero.
  void ClearTail();

  uint64_t size_ = 0;
  uint64_t allocated_pages_ = 0;
  std::vector<PageRef> pages_;
};

// The first byte at which a and b differ: the shorter size if one is a prefix of the other,
// and the size if they are equal.
uint64_t FirstDifference(const FileData& a, const FileData& b);

// Prints the bytes (or, for a large file, its size and first bytes), for test failures.
std::ostream& operator<<(std::ostream& os, const FileData& data);

}  // namespace duet::sim

#endif  // DUET_SIM_FILE_DATA_H_
