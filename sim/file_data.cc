#include "sim/file_data.h"

#include <algorithm>
#include <cstring>
#include <ostream>

#include "absl/strings/escaping.h"

namespace duet::sim {
namespace {

constexpr uint64_t kPage = FileData::kPageSize;
const FileData::Page kZeros{};

uint64_t PagesFor(uint64_t size) { return (size + kPage - 1) / kPage; }

const char* BytesOf(const FileData::PageRef& page) { return page ? page->data() : kZeros.data(); }

}  // namespace

std::string FileData::substr(uint64_t pos, uint64_t n) const {
  if (pos >= size_) return std::string();
  n = std::min(n, size_ - pos);
  std::string out(n, '\0');
  for (uint64_t done = 0; done < n;) {
    const uint64_t at = pos + done;
    const uint64_t in = at % kPage;
    const uint64_t chunk = std::min(kPage - in, n - done);
    if (const PageRef& page = pages_[at / kPage]) {
      std::memcpy(out.data() + done, page->data() + in, chunk);
    }
    done += chunk;
  }
  return out;
}

uint64_t FileData::FindMismatch(uint64_t offset, std::string_view bytes) const {
  for (uint64_t done = 0; done < bytes.size();) {
    const uint64_t at = offset + done;
    if (at >= size_) return at;
    const uint64_t in = at % kPage;
    const uint64_t chunk = std::min({kPage - in, bytes.size() - done, size_ - at});
    const char* have = BytesOf(pages_[at / kPage]) + in;
    const char* want = bytes.data() + done;
    if (std::memcmp(have, want, chunk) != 0) {
      for (uint64_t k = 0;; ++k) {
        if (have[k] != want[k]) return at + k;
      }
    }
    done += chunk;
  }
  return kNoMismatch;
}

void FileData::Write(uint64_t offset, std::string_view bytes) {
  const uint64_t end = offset + bytes.size();
  if (end > size_) Resize(end);
  for (uint64_t done = 0; done < bytes.size();) {
    const uint64_t at = offset + done;
    const uint64_t in = at % kPage;
    const uint64_t chunk = std::min(kPage - in, bytes.size() - done);
    Page& page = MutablePage(at / kPage, /*overwrite=*/chunk == kPage);
    std::memcpy(page.data() + in, bytes.data() + done, chunk);
    done += chunk;
  }
}

void FileData::Write(uint64_t offset, const std::shared_ptr<const std::string>& bytes) {
  if (!bytes || bytes->empty()) {
    Write(offset, std::string_view());
    return;
  }
  const std::string& b = *bytes;
  const uint64_t end = offset + b.size();
  if (end > size_) Resize(end);
  for (uint64_t done = 0; done < b.size();) {
    const uint64_t at = offset + done;
    const uint64_t in = at % kPage;
    const uint64_t chunk = std::min(kPage - in, b.size() - done);
    if (chunk == kPage) {
      // A whole page: lent by the buffer (aliasing its ownership), not copied.
      PageRef& page = pages_[at / kPage];
      if (!page) ++allocated_pages_;
      page = PageRef(bytes, reinterpret_cast<const Page*>(b.data() + done));
    } else {
      std::memcpy(MutablePage(at / kPage).data() + in, b.data() + done, chunk);
    }
    done += chunk;
  }
}

void FileData::Resize(uint64_t size) {
  const uint64_t count = PagesFor(size);
  for (uint64_t i = count; i < pages_.size(); ++i) {
    if (pages_[i]) --allocated_pages_;
  }
  pages_.resize(count);
  const bool shrinks = size < size_;
  size_ = size;
  if (shrinks) ClearTail();
}

void FileData::PunchHole(uint64_t offset, uint64_t length) {
  if (offset >= size_) return;
  const uint64_t end = offset + std::min(length, size_ - offset);
  for (uint64_t at = offset; at < end;) {
    const uint64_t i = at / kPage;
    const uint64_t in = at % kPage;
    const uint64_t chunk = std::min(kPage - in, end - at);
    PageRef& page = pages_[i];
    // A page covered up to the size is whole: its bytes past the size are zeros anyway.
    const bool whole = in == 0 && (chunk == kPage || at + chunk == size_);
    if (page && whole) {
      page.reset();
      --allocated_pages_;
    } else if (page) {
      std::memset(MutablePage(i).data() + in, 0, chunk);
    }
    at += chunk;
  }
}

bool FileData::HasData(uint64_t offset, uint64_t length) const {
  if (length == 0 || offset >= size_) return false;
  const uint64_t last = (offset + std::min(length, size_ - offset) - 1) / kPage;
  for (uint64_t i = offset / kPage; i <= last; ++i) {
    if (pages_[i]) return true;
  }
  return false;
}

uint64_t FileData::NextData(uint64_t offset) const {
  for (uint64_t i = offset / kPage; i < pages_.size(); ++i) {
    if (pages_[i]) return std::max(offset, i * kPage);
  }
  return size_;
}

std::vector<std::pair<uint64_t, uint64_t>> FileData::Holes(uint64_t offset, uint64_t length) const {
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  if (length == 0 || offset >= size_) return holes;
  const uint64_t end = offset + std::min(length, size_ - offset);
  for (uint64_t at = offset; at < end;) {
    const uint64_t next = std::min(end, (at / kPage + 1) * kPage);
    if (!pages_[at / kPage]) {
      if (!holes.empty() && offset + holes.back().first + holes.back().second == at) {
        holes.back().second += next - at;
      } else {
        holes.emplace_back(at - offset, next - at);
      }
    }
    at = next;
  }
  return holes;
}

uint64_t FileData::PagesToAllocate(uint64_t offset, uint64_t length) const {
  if (length == 0) return 0;
  const uint64_t first = offset / kPage;
  const uint64_t last = (offset + length - 1) / kPage;
  uint64_t count = 0;
  for (uint64_t i = first; i <= last && i < pages_.size(); ++i) {
    if (!pages_[i]) ++count;
  }
  if (last >= pages_.size()) count += last + 1 - std::max<uint64_t>(first, pages_.size());
  return count;
}

void FileData::SetPage(uint64_t i, PageRef page) {
  if (pages_[i]) --allocated_pages_;
  if (page) ++allocated_pages_;
  pages_[i] = std::move(page);
  if (i + 1 == pages_.size()) ClearTail();
}

FileData::Page& FileData::MutablePage(uint64_t i, bool overwrite) {
  PageRef& page = pages_[i];
  if (!page) ++allocated_pages_;
  if (page && page.use_count() == 1 && Owned(page)) {
    // Written in place.
  } else if (overwrite) {
    page = PageRef(new Page, OwnedPageDeleter{});
  } else if (!page) {
    page = PageRef(new Page{}, OwnedPageDeleter{});  // value-initialized: zeros
  } else {
    page = PageRef(new Page(*page), OwnedPageDeleter{});
  }
  // Allocated as a mutable Page by this class, and owned by this FileData alone.
  return const_cast<Page&>(*page);
}

void FileData::ClearTail() {
  const uint64_t in = size_ % kPage;
  if (in == 0 || pages_.empty() || !pages_.back()) return;
  if (std::memcmp(pages_.back()->data() + in, kZeros.data(), kPage - in) == 0) return;
  std::memset(MutablePage(pages_.size() - 1).data() + in, 0, kPage - in);
}

bool operator==(const FileData& a, const FileData& b) {
  if (a.size_ != b.size_) return false;
  for (uint64_t i = 0; i < a.pages_.size(); ++i) {
    const FileData::PageRef& x = a.pages_[i];
    const FileData::PageRef& y = b.pages_[i];
    if (x == y) continue;  // shared: equal without reading it
    // Both pages are zero past the size, so whole pages compare.
    if (std::memcmp(BytesOf(x), BytesOf(y), kPage) != 0) return false;
  }
  return true;
}

bool operator==(const FileData& a, std::string_view b) {
  return a.size() == b.size() && a.FindMismatch(0, b) == FileData::kNoMismatch;
}

uint64_t FirstDifference(const FileData& a, const FileData& b) {
  const uint64_t n = std::min(a.size(), b.size());
  for (uint64_t i = 0; i * kPage < n; ++i) {
    if (a.page(i) == b.page(i)) continue;
    const char* x = BytesOf(a.page(i));
    const char* y = BytesOf(b.page(i));
    const uint64_t limit = std::min(kPage, n - i * kPage);
    for (uint64_t k = 0; k < limit; ++k) {
      if (x[k] != y[k]) return i * kPage + k;
    }
  }
  return n;
}

std::ostream& operator<<(std::ostream& os, const FileData& data) {
  constexpr uint64_t kShown = 256;
  if (data.size() <= kShown) return os << '"' << absl::CHexEscape(data.ToString()) << '"';
  return os << data.size() << " bytes \"" << absl::CHexEscape(data.substr(0, kShown / 4))
            << "\"...";
}

}  // namespace duet::sim
