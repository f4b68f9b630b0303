#include "core/report/span.h"

#include <vector>

#include "core/report/clock.h"
#include "core/report/timeline.h"

namespace dtbench {

namespace {
thread_local std::vector<std::string> t_spans;
}  // namespace

Span::Span(std::string name) {
#ifdef DTBENCH_WITH_NCCL
  nvtxRangePushA(name.c_str());
#endif
  t_spans.push_back(std::move(name));
  if (timeline::on()) begin_s_ = now_s();
}

Span::~Span() {
  if (begin_s_ >= 0) timeline::slice(t_spans.back(), "span", timeline::thread_index(), begin_s_, now_s());
  t_spans.pop_back();
#ifdef DTBENCH_WITH_NCCL
  nvtxRangePop();
#endif
}

std::string span_context() {
  std::string out;
  for (const auto& s : t_spans) {
    if (!out.empty()) out += " / ";
    out += s;
  }
  return out;
}

}  // namespace dtbench
