#!/usr/bin/env bash
# The communication tests of dist_tests (test_ops.cpp, test_comm.cpp) at NP ranks over one CPU
# backend (the store backend: all but the tests that send, it has no point-to-point ops); the
# store's rendezvous on a free loopback port.
#   tests/sanitize/comm_tests.sh mpi|store NP DIST_TESTS
set -euo pipefail
backend="$1" np="$2" exe="$3"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DTBENCH_TEST_BACKEND="$backend" MASTER_ADDR=127.0.0.1
MASTER_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export MASTER_PORT
# The store backend has no point-to-point ops: its runs leave out the tests that send.
if [ "$backend" = store ]; then spec='[#test_ops] ~*send*,[#test_comm] ~*send*'; else spec='[#test_ops],[#test_comm]'; fi
exec "$src/launch/mpirun-local" "$np" "$exe" -# "$spec"
