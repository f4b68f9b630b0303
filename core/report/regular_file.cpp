#include "core/report/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dtbench {

RegularFile::RegularFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; it is refused
  // below, and regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error_ = std::string("cannot open it: ") + std::strerror(errno);
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error_ = "not a regular file (a FIFO, device or folder cannot be read as one)";
    ::close(fd);
    return;
  }
  fd_ = fd;
  size_ = static_cast<int64_t>(st.st_size);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RegularFile::read_at(void* dst, int64_t bytes, int64_t offset) const {
  if (fd_ < 0) return error_;
  auto* p = static_cast<char*>(dst);
  int64_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd_, p + done, static_cast<std::size_t>(bytes - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("cannot read it: ") + std::strerror(errno);
    if (n == 0)
      return "it ends at byte " + std::to_string(offset + done) + ", before byte " + std::to_string(offset + bytes);
    done += n;
  }
  return "";
}

std::string read_regular_file(const std::string& path, int64_t max_bytes, std::string* contents) {
  const RegularFile f(path);
  if (!f.ok()) return f.error();
  if (f.size() > max_bytes)
    return "it holds " + std::to_string(f.size()) + " bytes, more than " + std::to_string(max_bytes);
  contents->assign(static_cast<std::size_t>(f.size()), '\0');
  return f.read_at(contents->data(), f.size(), 0);
}

}  // namespace dtbench
