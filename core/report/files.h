// Small file-system helpers on POSIX calls.
//
// Not std::filesystem: libtorch.so exports its own copies of some std::filesystem symbols
// (remove_all, for one), which the dynamic linker binds ahead of libstdc++'s and which
// crash when called from our code.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dtbench {

// mkdir -p; returns "" on success, else the reason.
std::string make_dirs(const std::string& path);

// Whether a file can be written at `path` the way write_json_atomic writes it (its folder
// made if missing, a new file created beside it, then renamed over it): "" or the reason.
// Leaves the folder, but no file, behind. For checking --out before the first step.
std::string check_writable_file(const std::string& path);

// The folder part of a path ("." when there is none).
std::string parent_dir(const std::string& path);

// rm -rf; for tests and temporary folders.
void remove_tree(const std::string& path);

// Writes all of `size` bytes to `fd` (retrying short writes and EINTR); "" or the reason.
std::string write_fully(int fd, const void* data, std::size_t size);

// Writes `text` to `path` so that a reader sees the old file or the new one, never a part:
// a temporary file beside it (its folder made if missing), fsync, rename, fsync of the folder.
// Throws RuntimeFailure naming the path on I/O errors.
void write_file_atomic(const std::string& path, const std::string& text);

// fsync of a folder, which makes renames and new entries in it durable.
void fsync_dir(const std::string& path);

// The entries of a folder (not "." and ".."), unsorted; empty when it cannot be read.
std::vector<std::string> list_dir(const std::string& path);

}  // namespace dtbench
