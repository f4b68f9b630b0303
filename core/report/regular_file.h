// Reading files a user names (data, indexes, checkpoints, tokens) without trusting them: only
// regular files are opened (a FIFO, device or folder is refused without blocking on it), and
// reads are positioned and exact, so a file that shrinks under us is a reported short read,
// never a SIGBUS from a vanished mapping.
#pragma once

#include <cstdint>
#include <string>

namespace dtbench {

class RegularFile {
 public:
  // Opens `path` for reading; ok() says whether it is an open regular file, error() why not.
  explicit RegularFile(const std::string& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }  // at open

  // Reads exactly `bytes` bytes at `offset` into `dst` (retrying short reads and EINTR):
  // "" or the reason, a file that ends first included.
  std::string read_at(void* dst, int64_t bytes, int64_t offset) const;

 private:
  std::string path_, error_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// The whole of the regular file `path` into *contents when it holds at most `max_bytes`:
// "" or the reason.
std::string read_regular_file(const std::string& path, int64_t max_bytes, std::string* contents);

}  // namespace dtbench
