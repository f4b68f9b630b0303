// Spans: the one instrumentation point for what a rank is doing (docs/ARCHITECTURE.md,
// "Diagnosis"). A Span names a stretch of work on the calling thread (a step, a micro-batch's
// forward, an FSDP unit's backward) and feeds two consumers:
//   - NVTX ranges, so that Nsight Systems timelines show it (header-only NVTX v3, a branch
//     when no tool is attached; builds without the CUDA toolkit have none);
//   - the thread's context stack, which the Communicator stamps on every op it issues, so
//     that a hang report says "fsdp unit 7 forward" instead of only "#1207";
//   - with --trace, a slice of the rank's timeline (timeline.h).
// Spans nest per thread; each one costs a string move and a push/pop (and two clock reads
// and a locked push when tracing).
#pragma once

#ifdef DTBENCH_WITH_NCCL
#include <nvtx3/nvToolsExt.h>
#endif

#include <string>

namespace dtbench {

class Span {
 public:
  explicit Span(std::string name);
  explicit Span(const char* name) : Span(std::string(name)) {}
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  double begin_s_ = -1;  // when tracing
};

// The calling thread's open spans, outermost first, joined by " / " ("" when none).
std::string span_context();

}  // namespace dtbench
