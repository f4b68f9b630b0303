// One strict reader for every number dtbench takes from outside: flags, environment
// variables, files (docs/ARCHITECTURE.md, "CLI").
//
// The whole text must be the number (no "1,5e-4" read as 1, no "12abc" read as 12), it must
// be finite and inside its range, and products of user numbers are checked for overflow. Every
// refusal is a UsageError (exit 2) whose one line names the flag or variable, the text given
// and what would be accepted.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

namespace dtbench {

// The readers: "" when `text` is accepted (the value in `out`), else why not and what would
// be accepted, for a caller that names the source itself (core/app/cli's flag values).
std::string read_integer(std::string_view text, int64_t lo, int64_t hi, int64_t& out);
std::string read_real(std::string_view text, double lo, double hi, double& out);
std::string read_bytes(std::string_view text, int64_t lo, int64_t hi, int64_t& out);

// `text` made safe for a one-line message: at most 40 characters, unprintable ones as '?'.
std::string shown_text(std::string_view text);

// `text` as a decimal integer in [lo, hi]. `what` names the source: "--steps",
// "torchrun: MASTER_PORT".
int64_t parse_integer(const std::string& what, std::string_view text, int64_t lo = 0,
                      int64_t hi = std::numeric_limits<int64_t>::max());

// `text` as a finite real in [lo, hi] (decimal or exponent notation; nan and inf are refused).
double parse_real(const std::string& what, std::string_view text, double lo = -std::numeric_limits<double>::max(),
                  double hi = std::numeric_limits<double>::max());

// A byte count: a decimal integer with an optional K, M, G or T suffix (powers of 1024), in
// [lo, hi]; the multiplication is checked.
int64_t parse_bytes(const std::string& what, std::string_view text, int64_t lo = 0,
                    int64_t hi = std::numeric_limits<int64_t>::max());

// A range check for a value already read (a default, a computed figure); NaN is out of range.
void check_range(const std::string& what, double value, double lo, double hi);

// The product of `factors` (each at least 0), or UsageError naming `what` when it passes `hi`
// (by default, when it would overflow int64).
int64_t checked_product(const std::string& what, std::initializer_list<int64_t> factors,
                        int64_t hi = std::numeric_limits<int64_t>::max());

}  // namespace dtbench
