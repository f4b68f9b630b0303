// Small file-system helpers on POSIX calls.
//
// Not std::filesystem: libtorch.so exports its own copies of some std::filesystem symbols
// (remove_all, for one), which the dynamic linker binds ahead of libstdc++'s and which
// crash when called from our code.
#pragma once

#include <string>

namespace dtbench {

// mkdir -p; returns "" on success, else the reason.
std::string make_dirs(const std::string& path);

// The folder part of a path ("." when there is none).
std::string parent_dir(const std::string& path);

// rm -rf; for tests and temporary folders.
void remove_tree(const std::string& path);

}  // namespace dtbench
