#include "core/report/flag_number.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/report/numbers.h"

namespace dtbench {

namespace {

template <typename T>
class StrictNumber : public cxxopts::values::standard_value<T> {
 public:
  std::shared_ptr<cxxopts::Value> clone() const override { return std::make_shared<StrictNumber>(*this); }
  void parse(const std::string& text) const override { *this->m_store = read(text); }
  void parse() const override { *this->m_store = read(this->m_default_value); }

 private:
  static T read(const std::string& text) {
    std::string why;
    if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      why = read_real(text, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), v);
      if (why.empty()) return static_cast<T>(v);
    } else {
      // uint64_t flags (seeds) take 0 to 2^63-1: int64's range, which every reader shares.
      const int64_t lo = std::max<int64_t>(std::numeric_limits<T>::min(), std::numeric_limits<int64_t>::min());
      const int64_t hi =
          static_cast<int64_t>(std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max()));
      int64_t v = 0;
      why = read_integer(text, lo, hi, v);
      if (why.empty()) return static_cast<T>(v);
    }
    throw BadFlagValue(text, why);
  }
};

}  // namespace

template <typename T>
std::shared_ptr<cxxopts::Value> number() {
  return std::make_shared<StrictNumber<T>>();
}
template std::shared_ptr<cxxopts::Value> number<int>();
template std::shared_ptr<cxxopts::Value> number<int64_t>();
template std::shared_ptr<cxxopts::Value> number<uint64_t>();
template std::shared_ptr<cxxopts::Value> number<double>();

}  // namespace dtbench
