// The strict number reader (core/report/numbers.h) and the numeric flag values built on it
// (core/report/flag_number.h): each class of bad text, with several inputs.
#include <catch2/catch.hpp>

#include <cxxopts.hpp>

#include <limits>
#include <string>
#include <vector>

#include "core/app/cli.h"
#include "core/report/errors.h"
#include "core/report/numbers.h"

using namespace dtbench;

namespace {
template <typename F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// Parses argv with one flag of each numeric type; returns the usage error, "" when accepted.
std::string flag_error(std::vector<std::string> args) {
  cxxopts::Options o("t");
  // clang-format off
  o.add_options()
      ("lr", "", number<double>()->default_value("1e-4"))
      ("steps", "", number<int64_t>()->default_value("10"))
      ("count", "", number<int>())
      ("seed", "", number<uint64_t>()->default_value("1"));
  // clang-format on
  args.insert(args.begin(), "t");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return usage_error([&] { parse_flags(o, static_cast<int>(argv.size()), argv.data()); });
}
}  // namespace

TEST_CASE("integers: the whole text, in range, or a usage error naming the source") {
  CHECK(parse_integer("--steps", "12") == 12);
  CHECK(parse_integer("--steps", "+12") == 12);
  CHECK(parse_integer("x", "-5", -10, 10) == -5);
  CHECK(parse_integer("x", "9223372036854775807") == std::numeric_limits<int64_t>::max());
  for (const char* bad : {"", "12abc", "1.5", "1e3", " 12", "12 ", "0x10", "++1", "+-1", "1,000", "nan"})
    CHECK_THAT(usage_error([&] { parse_integer("--steps", bad); }),
               Catch::StartsWith("--steps '") && Catch::Contains("not a whole number"));
  for (const char* big : {"9223372036854775808", "18014398509481985000", "-9223372036854775809"})
    CHECK_THAT(usage_error([&] { parse_integer("--steps", big, std::numeric_limits<int64_t>::min()); }),
               Catch::Contains("too large"));
  CHECK_THAT(usage_error([&] { parse_integer("torchrun: MASTER_PORT", "70000", 1, 65535); }),
             Catch::Contains("torchrun: MASTER_PORT '70000'") && Catch::Contains("from 1 to 65535"));
  CHECK_THAT(usage_error([&] { parse_integer("NNODES", "0", 1); }), Catch::Contains("at least 1"));
}

TEST_CASE("reals: finite, '.' as the decimal point, the whole text") {
  CHECK(parse_real("--lr", "3e-4") == 3e-4);
  CHECK(parse_real("--lr", "+0.5") == 0.5);
  CHECK(parse_real("--lr", "-2") == -2);
  CHECK(parse_real("--lr", "1E3") == 1000);
  for (const char* bad : {"1,5e-4", "nan", "NaN", "inf", "-inf", "infinity", "1e400", "", "0.5x", "1e", "--1", " 1"})
    CHECK_THAT(usage_error([&] { parse_real("--lr", bad); }),
               Catch::StartsWith("--lr '") && Catch::Contains("not a finite number"));
  CHECK_THAT(usage_error([&] { parse_real("--comm-timeout", "1e20", 0.001, 1e6); }), Catch::Contains("out of range"));
  CHECK_THAT(usage_error([&] { check_range("--comm-timeout", std::numeric_limits<double>::quiet_NaN(), 0, 1); }),
             Catch::Contains("out of range"));
}

TEST_CASE("byte sizes: suffixes are powers of 1024, overflow is refused") {
  CHECK(parse_bytes("-b", "8") == 8);
  CHECK(parse_bytes("-b", "64K") == 64 << 10);
  CHECK(parse_bytes("-b", "1g") == int64_t{1} << 30);
  CHECK(parse_bytes("-b", "2T") == int64_t{2} << 40);
  for (const char* bad : {"", "K", "1.5M", "64KB", "-8", "8 K", "0x10"})
    CHECK_THAT(usage_error([&] { parse_bytes("-b", bad); }), Catch::Contains("not a size"));
  for (const char* big : {"18014398509481985K", "9007199254740992M", "8589934592G", "99999999999999999999"})
    CHECK_THAT(usage_error([&] { parse_bytes("-e", big); }), Catch::StartsWith("-e '") && Catch::Contains("large"));
  CHECK_THAT(usage_error([&] { parse_bytes("-e", "2G", 1, int64_t{1} << 30); }), Catch::Contains("at most"));
}

TEST_CASE("products of user numbers are checked, not wrapped") {
  CHECK(checked_product("tp x pp", {2, 4}) == 8);
  CHECK(checked_product("x", {0, std::numeric_limits<int64_t>::max()}) == 0);
  CHECK_THAT(usage_error([] {
               checked_product("tp x pp", {int64_t{1} << 32, int64_t{1} << 32});
             }),
             Catch::Contains("tp x pp") && Catch::Contains("4294967296 x 4294967296"));
  CHECK_THAT(usage_error([] {
               checked_product("nodes x nproc", {1 << 20, 4096}, std::numeric_limits<int>::max());
             }),
             Catch::Contains("nodes x nproc"));
  CHECK_THAT(usage_error([] { checked_product("x", {-1, 2}); }), Catch::Contains("negative"));
}

TEST_CASE("messages stay one printable line however hostile the text") {
  const std::string msg =
      usage_error([] { parse_integer("RANK", std::string("1\nFAKE LINE") + std::string(500, 'x')); });
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.size() < 200);
}

TEST_CASE("numeric flags: strict values, the flag named in every spelling") {
  CHECK(flag_error({"--lr", "3e-4", "--steps", "5", "--count=-3", "--seed", "7"}).empty());
  CHECK_THAT(flag_error({"--lr", "1,5e-4"}), Catch::StartsWith("--lr '1,5e-4': not a finite number"));
  CHECK_THAT(flag_error({"--lr=nan"}), Catch::StartsWith("--lr 'nan'"));
  CHECK_THAT(flag_error({"--steps", "12abc"}), Catch::StartsWith("--steps '12abc': not a whole number"));
  CHECK_THAT(flag_error({"--steps=99999999999999999999"}),
             Catch::StartsWith("--steps") && Catch::Contains("too large"));
  CHECK_THAT(flag_error({"--count", "4294967296"}), Catch::StartsWith("--count '4294967296': out of range"));
  CHECK_THAT(flag_error({"--seed", "-1"}), Catch::StartsWith("--seed '-1': out of range"));
}
