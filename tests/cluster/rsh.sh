#!/usr/bin/env bash
# Open MPI's remote shell between nodes of the virtual cluster (--mca plm_rsh_agent): called
# as "rsh.sh [ssh options] NODE COMMAND...", it runs COMMAND with bash on NODE, as ssh would.
# The cluster's folder comes from DTBENCH_CLUSTER_DIR (mpirun -x passes it on).
set -euo pipefail
while [[ "${1:-}" == -* ]]; do shift; done
node="${1:?rsh.sh: no node}"
shift
exec bash "$(dirname "${BASH_SOURCE[0]}")/on-node.sh" "${DTBENCH_CLUSTER_DIR:?rsh.sh: DTBENCH_CLUSTER_DIR is not set}" \
  "$node" bash -c "$*"
