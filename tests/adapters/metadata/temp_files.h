// A private temporary directory and whole-file reads and writes, for the metadata tests.
#ifndef DUET_TESTS_ADAPTERS_METADATA_TEMP_FILES_H_
#define DUET_TESTS_ADAPTERS_METADATA_TEMP_FILES_H_

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace duet::metadata {

// Made at construction, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/duet-metadata-test-XXXXXX";
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

}  // namespace duet::metadata

#endif  // DUET_TESTS_ADAPTERS_METADATA_TEMP_FILES_H_
