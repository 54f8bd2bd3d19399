#include "adapters/daemon/daemon_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace duet::daemon {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/duet-log-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DaemonLogTest, ModuleLinesGoToTheConsoleAndTheModuleFile) {
  TempDir dir;
  FILE* console = std::tmpfile();
  {
    DaemonLog log("a", dir.path() + "/log", 1 << 20, console);
    log.Module("web", "state PRIM: started");
    log.Node("peer b lost");
  }
  std::string file = ReadFile(dir.path() + "/log/web.log");
  EXPECT_NE(file.find("a: state PRIM: started"), std::string::npos) << file;
  EXPECT_EQ(file.find("peer b lost"), std::string::npos);
  std::rewind(console);
  char buf[256] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, console);
  std::string text(buf, n);
  EXPECT_NE(text.find("a web: state PRIM: started\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a: peer b lost\n"), std::string::npos) << text;
  std::fclose(console);
}

TEST(DaemonLogTest, AModuleLogNeverHoldsMoreThanTwiceItsCap) {
  TempDir dir;
  FILE* console = std::tmpfile();
  DaemonLog log("a", dir.path(), 1000, console);
  for (int i = 0; i < 500; ++i) log.Module("db", "line " + std::to_string(i) + " of the log");
  struct stat current {
  }, old{};
  ASSERT_EQ(::stat((dir.path() + "/db.log").c_str(), &current), 0);
  ASSERT_EQ(::stat((dir.path() + "/db.log.1").c_str(), &old), 0);
  EXPECT_LE(current.st_size, 1000);
  EXPECT_LE(old.st_size, 1000);
  EXPECT_NE(ReadFile(dir.path() + "/db.log").find("line 499 of the log"), std::string::npos);
  std::fclose(console);
}

TEST(DaemonLogTest, AnUnwritableLogDirectoryIsReportedOnceAndLinesStillReachTheConsole) {
  FILE* console = std::tmpfile();
  DaemonLog log("a", "/proc/duet-no-such-dir", 1000, console);
  log.Module("web", "first");
  log.Module("web", "second");
  std::rewind(console);
  char buf[1024] = {};
  std::string text(buf, std::fread(buf, 1, sizeof buf - 1, console));
  EXPECT_NE(text.find("first"), std::string::npos);
  EXPECT_NE(text.find("second"), std::string::npos);
  size_t first = text.find("cannot write the module log");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("cannot write the module log", first + 1), std::string::npos) << text;
  std::fclose(console);
}

}  // namespace
}  // namespace duet::daemon
