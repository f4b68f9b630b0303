// The message-size sweep that every bandwidth benchmark takes, with nccl-tests' flags:
// -b smallest, -e largest, -i step in bytes or -f step factor, -n timed and -w warm-up
// iterations per size.
#pragma once

#include <cxxopts.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dtbench {

struct SizeSweep {
  int64_t min_bytes = 32 << 20, max_bytes = 32 << 20;
  int64_t step_bytes = 1 << 20;  // -i, unless -f is given
  int64_t step_factor = 0;       // -f; 0 = step by bytes
  int iters = 20, warmup = 1;
};

// Adds -b -e -i -f -n -w to `group` with these defaults.
void add_size_flags(cxxopts::Options& o, const std::string& group, const SizeSweep& defaults);

// Reads and validates them, starting from `defaults` (whose step_factor applies when
// neither -i nor -f is given); throws UsageError (exit 2) naming the cause and the fix.
SizeSweep read_size_flags(const cxxopts::ParseResult& r, const SizeSweep& defaults = {});

// "64M" -> 67108864; K, M, G are powers of 1024 as in nccl-tests.
int64_t parse_size(const std::string& flag, const std::string& text);

// Message sizes from -b to -e stepping by -i bytes or by the factor -f.
std::vector<int64_t> message_sizes(const SizeSweep& s);

}  // namespace dtbench
