// Cuts a byte stream (a child's stdout and stderr) into lines for the log: a line ends at
// '\n' (a trailing '\r' is dropped); a line longer than the cap is cut into pieces of the
// cap, so a child that never writes a newline cannot make the buffer grow without bound.
#ifndef DUET_ADAPTERS_PROCESS_LINE_BUFFER_H_
#define DUET_ADAPTERS_PROCESS_LINE_BUFFER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace duet {

class LineBuffer {
 public:
  using LineCallback = std::function<void(std::string_view line)>;
  static constexpr size_t kDefaultMaxLine = 4096;

  explicit LineBuffer(size_t max_line = kDefaultMaxLine) : max_line_(max_line) {}

  // Calls `on_line` for every line completed by `bytes`.
  void Append(std::string_view bytes, const LineCallback& on_line);
  // Gives the unfinished last line, if any (at end of stream).
  void Flush(const LineCallback& on_line);

 private:
  void Emit(std::string_view line, const LineCallback& on_line);

  size_t max_line_;
  std::string partial_;
};

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_LINE_BUFFER_H_
