#include "adapters/process/line_buffer.h"

namespace duet {

void LineBuffer::Append(std::string_view bytes, const LineCallback& on_line) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    const size_t room = max_line_ - partial_.size();
    if (piece.size() >= room && (newline == std::string_view::npos || piece.size() > room)) {
      // The line reaches the cap before its end: give out a full piece and go on.
      partial_.append(piece.substr(0, room));
      Emit(partial_, on_line);
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial_.append(piece);
    if (newline == std::string_view::npos) return;
    Emit(partial_, on_line);
    partial_.clear();
    bytes.remove_prefix(newline + 1);
  }
}

void LineBuffer::Flush(const LineCallback& on_line) {
  if (partial_.empty()) return;
  Emit(partial_, on_line);
  partial_.clear();
}

void LineBuffer::Emit(std::string_view line, const LineCallback& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (on_line) on_line(line);
}

}  // namespace duet
