#include "core/report/numbers.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

#include "core/report/errors.h"

namespace dtbench {

namespace {

// "" for a type's whole range (a flag's type says it already).
std::string range_text(int64_t lo, int64_t hi) {
  const bool no_lo = lo == std::numeric_limits<int64_t>::min(), no_hi = hi == std::numeric_limits<int64_t>::max();
  if (no_lo && no_hi) return "";
  if (no_hi) return fmt::format(" at least {}", lo);
  if (no_lo) return fmt::format(" at most {}", hi);
  return fmt::format(" from {} to {}", lo, hi);
}

std::string range_text(double lo, double hi) {
  const double max = std::numeric_limits<double>::max();
  if (lo == -max && hi == max) return "";
  if (hi == max) return fmt::format(" at least {:g}", lo);
  if (lo == -max) return fmt::format(" at most {:g}", hi);
  return fmt::format(" from {:g} to {:g}", lo, hi);
}

// from_chars takes '-' but not '+'; one leading '+' is accepted as people write it.
std::string_view without_plus(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '+' && text[1] != '-') text.remove_prefix(1);
  return text;
}

// The decimal integer that is all of `text`; the reason otherwise.
std::string whole_integer(std::string_view text, int64_t& value) {
  const std::string_view digits = without_plus(text);
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value, 10);
  if (ec == std::errc::result_out_of_range) return "too large";
  if (ec != std::errc() || ptr != end || digits.empty()) return "not a whole number";
  return "";
}

}  // namespace

std::string shown_text(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 40)) out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  return text.size() > 40 ? out + "..." : out;
}

std::string read_integer(std::string_view text, int64_t lo, int64_t hi, int64_t& out) {
  int64_t v = 0;
  const std::string why = whole_integer(text, v);
  if (!why.empty()) return fmt::format("{}; want a whole number{}", why, range_text(lo, hi));
  if (v < lo || v > hi) return fmt::format("out of range; want{}", range_text(lo, hi));
  out = v;
  return "";
}

std::string read_real(std::string_view text, double lo, double hi, double& out) {
  const std::string_view body = without_plus(text);
  const char* end = body.data() + body.size();
  double v = 0;
  auto [ptr, ec] = std::from_chars(body.data(), end, v, std::chars_format::general);
  // from_chars also reads "nan" and "inf" (refused as not finite); a decimal comma or any
  // other trailing text stops it before the end.
  if (ec != std::errc() || ptr != end || body.empty() || !std::isfinite(v))
    return fmt::format("not a finite number; write it like 3e-4 or 0.5{}",
                       range_text(lo, hi).empty() ? "" : "," + range_text(lo, hi));
  if (v < lo || v > hi) return fmt::format("out of range; want{}", range_text(lo, hi));
  out = v;
  return "";
}

std::string read_bytes(std::string_view text, int64_t lo, int64_t hi, int64_t& out) {
  // K, M, G, T: 2^10, 2^20, 2^30, 2^40, in either case.
  int64_t mult = 1;
  std::string_view number = text;
  const auto suffix = number.empty() ? std::string_view::npos
                                     : std::string_view("KMGT").find(static_cast<char>(std::toupper(number.back())));
  if (suffix != std::string_view::npos) {
    mult = int64_t{1} << (10 * (suffix + 1));
    number.remove_suffix(1);
  }
  int64_t v = 0;
  const std::string why = whole_integer(number, v);
  if (why == "too large") return fmt::format("too large; want at most {} bytes", hi);
  if (!why.empty() || v < 0)
    return fmt::format("not a size; write bytes with an optional K, M, G or T suffix (e.g. 8, 64K, 1G){}",
                       range_text(lo, hi).empty() ? "" : "," + range_text(lo, hi));
  if (v > hi / mult) return fmt::format("too large; want at most {} bytes", hi);
  if (v * mult < lo) return fmt::format("out of range; want{}", range_text(lo, hi));
  out = v * mult;
  return "";
}

namespace {
[[noreturn]] void refuse(const std::string& what, std::string_view text, const std::string& why) {
  throw UsageError(fmt::format("{} '{}': {}", what, shown_text(text), why));
}
}  // namespace

int64_t parse_integer(const std::string& what, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  if (auto why = read_integer(text, lo, hi, v); !why.empty()) refuse(what, text, why);
  return v;
}

double parse_real(const std::string& what, std::string_view text, double lo, double hi) {
  double v = 0;
  if (auto why = read_real(text, lo, hi, v); !why.empty()) refuse(what, text, why);
  return v;
}

int64_t parse_bytes(const std::string& what, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  if (auto why = read_bytes(text, lo, hi, v); !why.empty()) refuse(what, text, why);
  return v;
}

void check_range(const std::string& what, double value, double lo, double hi) {
  DT_USAGE(std::isfinite(value) && value >= lo && value <= hi, "{} {:g}: out of range; want{}", what, value,
           range_text(lo, hi));
}

int64_t checked_product(const std::string& what, std::initializer_list<int64_t> factors, int64_t hi) {
  int64_t product = 1;
  for (int64_t f : factors) {
    DT_USAGE(f >= 0, "{}: a factor is negative ({})", what, f);
    if (f != 0 && product > hi / f) {
      std::string shown_factors;
      for (int64_t g : factors) shown_factors += (shown_factors.empty() ? "" : " x ") + std::to_string(g);
      throw UsageError(fmt::format("{}: {} is larger than {}; use smaller values", what, shown_factors, hi));
    }
    product *= f;
  }
  return product;
}

}  // namespace dtbench
