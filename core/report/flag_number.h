// The value type of every numeric command-line flag (int, int64_t, uint64_t, double).
//
// cxxopts' own reader takes "1,5e-4" as 1 and accepts nan and inf for doubles; this one reads
// with core/report/numbers, so the whole text is the number, finite and inside the type's
// range. Declare numeric flags with number<T>() in place of cxxopts::value<T>(); as<T>() reads
// them as before. A refused value throws BadFlagValue, which core/app/cli's parse_flags turns
// into a usage error naming the flag.
#pragma once

#include <cxxopts.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace dtbench {

template <typename T>
std::shared_ptr<cxxopts::Value> number();

// A numeric flag's refused text and why (the flag's name is added by the parser's caller).
struct BadFlagValue : std::runtime_error {
  BadFlagValue(std::string text, const std::string& why) : std::runtime_error(why), text(std::move(text)) {}
  std::string text;
};

}  // namespace dtbench
