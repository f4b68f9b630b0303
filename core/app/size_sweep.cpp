#include "core/app/size_sweep.h"

#include <fmt/format.h>

#include "core/report/errors.h"
#include "core/report/flag_number.h"
#include "core/report/numbers.h"

namespace dtbench {

namespace {
std::string size_text(int64_t bytes) {
  if (bytes % (1LL << 30) == 0) return fmt::format("{}G", bytes >> 30);
  if (bytes % (1LL << 20) == 0) return fmt::format("{}M", bytes >> 20);
  if (bytes % (1LL << 10) == 0) return fmt::format("{}K", bytes >> 10);
  return std::to_string(bytes);
}
}  // namespace

void add_size_flags(cxxopts::Options& o, const std::string& group, const SizeSweep& d) {
  // clang-format off
  o.add_options(group)
      ("b,minbytes", "smallest message, bytes (K, M, G suffixes)", cxxopts::value<std::string>()->default_value(size_text(d.min_bytes)), "SIZE")
      ("e,maxbytes", "largest message, bytes", cxxopts::value<std::string>()->default_value(size_text(d.max_bytes)), "SIZE")
      ("i,stepbytes", d.step_factor ? "step between sizes, bytes (not with -f)"
                                    : "step between sizes, bytes (default " + size_text(d.step_bytes) + "; not with -f)",
       cxxopts::value<std::string>(), "SIZE")
      ("f,stepfactor", d.step_factor ? fmt::format("multiply sizes by F (>= 2, default {}; not with -i)", d.step_factor)
                                     : std::string("multiply sizes by F (>= 2; not with -i)"),
       number<int64_t>(), "F")
      ("n,iters", "timed iterations per size", number<int>()->default_value(std::to_string(d.iters)), "N")
      ("w,warmup_iters", "untimed iterations first", number<int>()->default_value(std::to_string(d.warmup)), "N");
  // clang-format on
}

// Sizes are at least one byte: a zero step would never reach -e.
int64_t parse_size(const std::string& flag, const std::string& text) { return parse_bytes(flag, text, 1); }

SizeSweep read_size_flags(const cxxopts::ParseResult& r, const SizeSweep& defaults) {
  SizeSweep a = defaults;
  a.min_bytes = parse_size("-b", r["minbytes"].as<std::string>());
  a.max_bytes = parse_size("-e", r["maxbytes"].as<std::string>());
  DT_USAGE(a.min_bytes <= a.max_bytes, "-b {} is above -e {}: the sizes are reversed; swap them", a.min_bytes,
           a.max_bytes);
  const bool has_i = r.count("stepbytes") > 0, has_f = r.count("stepfactor") > 0;
  DT_USAGE(!(has_i && has_f), "-i and -f both given: step sizes either by bytes (-i) or by a factor (-f), not both");
  if (has_f) {
    a.step_factor = r["stepfactor"].as<int64_t>();
    DT_USAGE(a.step_factor >= 2, "-f {}: a step factor below 2 never grows the size; use -f 2 or more", a.step_factor);
  }
  if (has_i) {
    a.step_bytes = parse_size("-i", r["stepbytes"].as<std::string>());
    a.step_factor = 0;
  }
  a.iters = r["iters"].as<int>();
  a.warmup = r["warmup_iters"].as<int>();
  DT_USAGE(a.iters >= 1, "-n {}: at least one timed iteration is needed", a.iters);
  DT_USAGE(a.warmup >= 0, "-w {}: warm-up iterations cannot be negative", a.warmup);
  return a;
}

std::vector<int64_t> message_sizes(const SizeSweep& a) {
  std::vector<int64_t> sizes;
  for (int64_t s = a.min_bytes; s <= a.max_bytes;) {
    sizes.push_back(s);
    const int64_t next = a.step_factor >= 2 ? s * a.step_factor : s + a.step_bytes;
    if (next <= s) break;  // -i 0 with -b == -e
    s = next;
  }
  return sizes;
}

}  // namespace dtbench
