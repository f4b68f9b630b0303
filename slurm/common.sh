# shellcheck shell=bash
# What every dtbench sbatch script shares: run settings from the environment (each with a
# default), the EFA/NCCL environment the detected versions still need, and the launch in
# one of two forms:
#   LAUNCH=srun      one task per GPU (the #SBATCH default, 8 per node), srun --mpi=pmix
#   LAUNCH=launcher  one task per node running build/launch/dtbench-launch, which starts
#                    GPUS_PER_NODE ranks (CPU: the tasks per node asked for), as AWS's FSDP
#                    sbatch starts torchrun
# Settings (environment variables):
#   DTBENCH_ROOT     the repository (default: the submit directory)
#   DTBENCH_BIN      built binaries (default: $DTBENCH_ROOT/build)
#   DEVICE           cuda | cpu (default cuda)
#   GPUS_PER_NODE    ranks per node in launcher form on GPUs (default 8)
#   RUN_DIR          traces, NCCL logs, result.json (default $DTBENCH_ROOT/runs/<job>-<id>)
#   MASTER_ADDR/PORT rendezvous for the launcher form (default: the first node, 20000 + job id mod 20000)
#   DTBENCH_JOB_TOKEN the job's secret that every rank proves to the TCP store (default: 32
#                    random bytes made here; srun hands the environment to the tasks, never argv)
#   CONTAINER_IMAGE, CONTAINER_MOUNTS   run inside a pyxis container when set
#   NSYS             1: every rank under Nsight Systems (launch/nsys-wrap; reports in $RUN_DIR unless
#                    NSYS_DIR), nsys missing is exit 2 before the launch | optional: where nsys
#                    exists | 0 (default). Add --profile-steps A-B to EXTRA_ARGS to pick the steps.
#   EXTRA_ARGS       more flags for the benchmark (word-split)
#   SRUN_ARGS        more flags for srun (word-split)
set -euo pipefail

: "${DTBENCH_ROOT:=${SLURM_SUBMIT_DIR:-$PWD}}"
: "${DTBENCH_BIN:=$DTBENCH_ROOT/build}"
: "${DEVICE:=cuda}"
: "${GPUS_PER_NODE:=8}"
: "${LAUNCH:=srun}"
# The job name is the user's free text: only [A-Za-z0-9._-] of it names the run folder.
job_name="${SLURM_JOB_NAME:-dtbench}"
job_name="${job_name//[^A-Za-z0-9._-]/_}"
: "${RUN_DIR:=$DTBENCH_ROOT/runs/${job_name}-${SLURM_JOB_ID:-local}}"
: "${EXTRA_ARGS:=}"
: "${SRUN_ARGS:=}"
: "${CONTAINER_IMAGE:=}"
: "${CONTAINER_MOUNTS:=}"

dtbench_log() { printf '[%s] %s\n' "${SLURM_JOB_NAME:-dtbench}" "$*" >&2; }

# SLURM_JOB_ID names the run folder and the default port: digits only, never evaluated.
if [ -n "${SLURM_JOB_ID:-}" ] && ! [[ "$SLURM_JOB_ID" =~ ^[0-9]{1,12}$ ]]; then
  dtbench_log "SLURM_JOB_ID '${SLURM_JOB_ID}' is not a job number; run under sbatch or unset it"
  exit 2
fi
if [ -z "${DTBENCH_JOB_TOKEN:-}" ] && [ -z "${DTBENCH_JOB_TOKEN_FILE:-}" ]; then
  DTBENCH_JOB_TOKEN="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
fi
export DTBENCH_JOB_TOKEN

# major*1000 + minor of "1.18.2"-like version text; 0 when unknown.
dtbench_version_number() {
  local v="${1:-}" major minor
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || { echo 0; return; }
  echo $((major * 1000 + minor))
}

# The EFA/NCCL variables AWS's current guidance still asks for, given what is installed.
# Set only when unset (a user's own setting wins) and only where EFA devices exist; the
# benchmark records the effective environment in its result record.
dtbench_efa_env() {
  local efa_count=0 fi_version
  # EFA devices are RDMA devices whose driver is efa (p4d/p5 name them rdmapXsY): the one reader
  # the records and env_check use too (core/report/efa_counters), through efa_exporter --list.
  if [ -x "$DTBENCH_BIN/tools/efa_exporter" ]; then
    efa_count=$("$DTBENCH_BIN/tools/efa_exporter" --list | wc -l)
  else
    dtbench_log "$DTBENCH_BIN/tools/efa_exporter is missing (build dtbench): EFA devices not counted"
  fi
  if [ "$efa_count" -eq 0 ]; then
    dtbench_log "no EFA devices on $(hostname -s): NCCL uses its own transports (sockets between nodes)"
    return
  fi
  fi_version=$(fi_info --version 2>/dev/null | sed -n 's/^libfabric: *//p' | head -1)
  export FI_PROVIDER="${FI_PROVIDER:-efa}"
  # libfabric >= 1.18 turns on EFA device RDMA by itself where the hardware has it (p4d,
  # p5); older versions need it asked for.
  if [ "$(dtbench_version_number "$fi_version")" -lt 1018 ]; then
    export FI_EFA_USE_DEVICE_RDMA="${FI_EFA_USE_DEVICE_RDMA:-1}"
  fi
  # libfabric < 1.13 could not detect fork() users itself.
  if [ "$(dtbench_version_number "$fi_version")" -lt 1013 ]; then
    export FI_EFA_FORK_SAFE="${FI_EFA_FORK_SAFE:-1}"
  fi
  # Keep NCCL's bootstrap off container and loopback interfaces.
  export NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-^docker,lo,veth}"
  dtbench_log "EFA: $efa_count device(s), libfabric ${fi_version:-unknown}; FI_PROVIDER=$FI_PROVIDER"
}

# dtbench_run BENCHMARK [ARGS...]: launches build/benchmarks/BENCHMARK on every node of the
# allocation in the chosen form, with the record in $RUN_DIR/result.json.
dtbench_run() {
  local bench="$1"
  shift
  mkdir -p "$RUN_DIR"
  [ "$DEVICE" = cuda ] && dtbench_efa_env
  [ "$DEVICE" = cuda ] && export NCCL_DEBUG="${NCCL_DEBUG:-INFO}" NCCL_DEBUG_FILE="${NCCL_DEBUG_FILE:-$RUN_DIR/nccl.%h.%p.log}"
  local -a srun_args container=() run=("$DTBENCH_BIN/benchmarks/$bench" "$@" --run-dir "$RUN_DIR" --out "$RUN_DIR/result.json")
  local -a extra
  read -r -a extra <<<"$EXTRA_ARGS"
  run+=("${extra[@]}")
  read -r -a srun_args <<<"$SRUN_ARGS"
  if [ -n "$CONTAINER_IMAGE" ]; then
    container=(--container-image "$CONTAINER_IMAGE")
    [ -n "$CONTAINER_MOUNTS" ] && container+=(--container-mounts "$CONTAINER_MOUNTS")
  fi
  local nodes="${SLURM_JOB_NUM_NODES:-1}"
  if [ "${NSYS:-0}" != 0 ] && [ -n "${NSYS:-}" ]; then
    # Checked here, before any task starts; in a container, nsys is the image's and each rank's
    # nsys-wrap checks for itself. dtbench-launch puts nsys-wrap in front of its ranks itself.
    [ -n "$CONTAINER_IMAGE" ] || "$DTBENCH_BIN/launch/nsys-wrap" --check || return 2
    export NSYS NSYS_DIR="${NSYS_DIR:-$RUN_DIR}"
    [ "$LAUNCH" = srun ] && run=("$DTBENCH_BIN/launch/nsys-wrap" "${run[@]}")
  fi
  case "$LAUNCH" in
    srun)
      dtbench_log "$bench: srun --mpi=pmix, ${SLURM_NTASKS:-?} tasks on $nodes node(s); record $RUN_DIR/result.json"
      srun --mpi=pmix "${container[@]}" "${srun_args[@]}" "${run[@]}"
      ;;
    launcher)
      local per_node="$GPUS_PER_NODE"
      [ "$DEVICE" = cpu ] && per_node="${SLURM_NTASKS_PER_NODE:-1}"
      local master="${MASTER_ADDR:-$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -1)}"
      local port="${MASTER_PORT:-$((20000 + 10#${SLURM_JOB_ID:-0} % 20000))}"
      dtbench_log "$bench: dtbench-launch, $per_node ranks on each of $nodes node(s), master $master:$port; record $RUN_DIR/result.json"
      srun --nodes="$nodes" --ntasks="$nodes" --ntasks-per-node=1 "${container[@]}" "${srun_args[@]}" \
        "$DTBENCH_BIN/launch/dtbench-launch" --nproc-per-node "$per_node" --master-addr "$master" --master-port "$port" \
        -- "${run[@]}"
      ;;
    *)
      dtbench_log "LAUNCH=$LAUNCH: use srun (a task per GPU) or launcher (a task per node)"
      return 2
      ;;
  esac
}
