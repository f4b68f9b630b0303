// The one place where errors become exit codes (docs/ARCHITECTURE.md, "Exit codes").
//
// Runs `body`; an Error prints one line "<program>: error: <message>" and exits with its
// code. Once communication has started (abort hooks exist), the exit goes through the
// watchdog, so MPI_Abort / ncclCommAbort take the peers down too instead of leaving them
// waiting.
#pragma once

#include <functional>

namespace dtbench {

int run_guarded(const char* program, const std::function<int()>& body);

}  // namespace dtbench
