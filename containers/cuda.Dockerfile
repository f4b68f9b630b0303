# syntax=docker/dockerfile:1
# dtbench for GPU clusters: CUDA, AWS's EFA software (libfabric, Open MPI, aws-ofi-nccl), the
# pinned torch wheel (libtorch and its NCCL) and the dtbench binaries. From the repository root:
#   docker build -f containers/cuda.Dockerfile -t dtbench:cuda .
# containers/README.md: enroot/pyxis, Kubernetes, what is pinned and how to bump it.

# The CUDA release must be the torch wheel's (DTBENCH_TORCH_CUDA in scripts/env.sh); the build
# stage checks it.
ARG CUDA=13.0.2
ARG UBUNTU=ubuntu24.04
# Brings libfabric, Open MPI and aws-ofi-nccl under /opt/amazon, and rdma-core.
ARG EFA_INSTALLER_VERSION=1.51.0

# ---- build: compilers, the venv with torch, dtbench ---------------------------------------
FROM nvidia/cuda:${CUDA}-devel-${UBUNTU} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
# One libnccl.so.2 per process: dtbench links the torch wheel's NCCL, so the image's goes.
RUN apt-get update \
 && apt-get remove -y --allow-change-held-packages libnccl2 libnccl-dev \
 && apt-get install -y --no-install-recommends \
      build-essential ca-certificates ccache cmake curl git libcxxopts-dev ninja-build \
      nlohmann-json3-dev pkg-config python3-dev python3-venv \
 && rm -rf /var/lib/apt/lists/*

# AWS's installer, as AWS's recipes run it in containers: no kernel module, no limits file, no
# device check (none at build time). The unpacked installer stays here: the runtime stage
# installs from it.
ARG EFA_INSTALLER_VERSION
WORKDIR /tmp/aws-efa-installer
RUN curl -fsSL "https://efa-installer.amazonaws.com/aws-efa-installer-${EFA_INSTALLER_VERSION}.tar.gz" \
      | tar -xz -C /tmp \
 && apt-get update \
 && ./efa_installer.sh -y -g -d --skip-kmod --skip-limit-conf --no-verify \
 && rm -rf /var/lib/apt/lists/* \
 && /opt/amazon/efa/bin/fi_info --version

# The versions come from scripts/env.sh (one place); a build argument of the same name wins.
ARG DTBENCH_TORCH_VERSION
ARG DTBENCH_TORCH_CUDA
WORKDIR /opt/dtbench/src
COPY scripts/env.sh scripts/
RUN . scripts/env.sh \
 && case "$CUDA_VERSION" in \
      "$DTBENCH_TORCH_CUDA".*) ;; \
      *) echo "CUDA $CUDA_VERSION here, but torch $DTBENCH_TORCH_VERSION is built for CUDA $DTBENCH_TORCH_CUDA: set CUDA" >&2; exit 1 ;; \
    esac \
 && python3 -m venv "$DTBENCH_VENV" \
 && "$DTBENCH_VENV/bin/pip" install --no-cache-dir --progress-bar off "torch==${DTBENCH_TORCH_VERSION}" \
 && "$DTBENCH_VENV/bin/python" -c 'import os, torch; got = (torch.__version__.split("+")[0], torch.version.cuda); want = (os.environ["DTBENCH_TORCH_VERSION"], os.environ["DTBENCH_TORCH_CUDA"]); assert got == want, f"torch {got}, want {want}"'

# Same as CMakeLists.txt's default (A100, H100/H200, B200 + PTX); CI passes 9.0.
ARG TORCH_CUDA_ARCH_LIST="8.0;9.0;10.0+PTX"
COPY . .
# MPI and libfabric are AWS's (/opt/amazon), not Ubuntu's; ccache lives in a build cache.
# dist/ holds what the runtime stage takes: the executables, in build/'s layout.
RUN --mount=type=cache,target=/opt/dtbench/ccache \
    PKG_CONFIG_PATH=/opt/amazon/efa/lib/pkgconfig bash scripts/build.sh -DBUILD_TESTING=OFF \
      -DDTBENCH_WITH_MPI=ON -DMPI_HOME=/opt/amazon/openmpi -DDTBENCH_WITH_LIBFABRIC=ON \
 && mkdir -p dist \
 && find build/benchmarks build/launch build/tools -maxdepth 1 -type f -perm -u+x -exec cp --parents -t dist {} +

# ---- runtime: CUDA runtime, EFA, the venv, the binaries, sshd -----------------------------
FROM nvidia/cuda:${CUDA}-runtime-${UBUNTU} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
# python3: the venv's interpreter. ssh: mpirun reaches MPIJob workers (and Slurm-less hosts)
# over it.
RUN apt-get update \
 && apt-get remove -y --allow-change-held-packages libnccl2 \
 && apt-get install -y --no-install-recommends ca-certificates openssh-client openssh-server python3 \
 && rm -rf /var/lib/apt/lists/*

# Copying /opt/amazon alone is not enough: libfabric's efa provider needs the installer's
# rdma-core (libibverbs, libefa under /usr/lib) and its package dependencies. So the same
# unpacked installer runs again, mounted from the build stage (no second download, no layer),
# without debug packages.
WORKDIR /tmp/aws-efa-installer
RUN --mount=type=bind,from=build,source=/tmp/aws-efa-installer,target=/tmp/aws-efa-installer,rw \
    apt-get update \
 && ./efa_installer.sh -y -g --skip-kmod --skip-limit-conf --no-verify \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /

# The venv keeps its build path: the binaries' RUNPATH points into it (libtorch, NCCL).
COPY --from=build /opt/dtbench/venv /opt/dtbench/venv
COPY --from=build /opt/dtbench/src/dist/ /opt/dtbench/

# Paths and Open MPI/PMIx settings as AWS's recipes set them: no UCX, TCP between nodes off
# loopback and docker bridges, PMIx's hash store (its shared-memory store fails in
# containers). aws-ofi-nccl >= 1.13 lives in /opt/amazon/ofi-nccl (lib/<triplet> on Ubuntu).
# Not set here, on purpose: FI_PROVIDER=efa (slurm/common.sh sets it, with what the detected
# libfabric still needs, only where EFA devices exist; the image also runs where there are
# none, and k8s/*.yaml set it in their env), NCCL_SOCKET_IFNAME (same), NCCL_DEBUG (the
# launch files choose; unset keeps benchmark output clean). Under pyxis a variable the image
# sets also wins over the job's own value, so baking these would override the launch files.
ENV PATH=/opt/dtbench/build/benchmarks:/opt/dtbench/build/launch:/opt/dtbench/build/tools:/opt/amazon/openmpi/bin:/opt/amazon/efa/bin:${PATH} \
    LD_LIBRARY_PATH=/opt/amazon/openmpi/lib:/opt/amazon/efa/lib:/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu:/opt/amazon/ofi-nccl/lib:${LD_LIBRARY_PATH} \
    OPAL_PREFIX=/opt/amazon/openmpi \
    OMPI_MCA_pml=^ucx \
    OMPI_MCA_btl=tcp,self \
    OMPI_MCA_btl_tcp_if_exclude=lo,docker0,veth_def_agent \
    PMIX_MCA_gds=hash \
    DTBENCH_BIN=/opt/dtbench/build \
    DTBENCH_VENV=/opt/dtbench/venv

# sshd for MPIJob workers, on port 22: k8s/operators/collectives-mpijob.yaml runs the workers
# as root with `/usr/sbin/sshd -De` and its mpirun uses ssh's default port (the mpi-operator's
# 2222 is for non-root workers, which cannot bind below 1024). No user keys here: the
# mpi-operator mounts them into /root/.ssh at run time. Host keys are the ones openssh-server
# generated at install (the worker command starts sshd directly, which needs some); the
# launcher does not check host keys, as the mpi-operator requires. StrictModes off: the
# mounted key files have the Secret's permissions. SetEnv: ssh sessions do not get the image's
# ENV, and orted started over ssh needs Open MPI's paths.
RUN mkdir -p /run/sshd \
 && printf '%s\n' 'StrictModes no' \
      "SetEnv PATH=${PATH} LD_LIBRARY_PATH=${LD_LIBRARY_PATH} OPAL_PREFIX=${OPAL_PREFIX} PMIX_MCA_gds=${PMIX_MCA_gds}" \
      >/etc/ssh/sshd_config.d/dtbench.conf \
 && printf '%s\n' 'Host *' '    StrictHostKeyChecking no' '    UserKnownHostsFile /dev/null' \
      >/etc/ssh/ssh_config.d/dtbench.conf \
 && /usr/sbin/sshd -t \
 && plugins="$(IFS=:; for d in $LD_LIBRARY_PATH; do ls "$d"/libnccl-net*.so 2>/dev/null; done; true)" \
 && if [ -z "$plugins" ]; then \
      echo "aws-ofi-nccl (libnccl-net*.so) is not on LD_LIBRARY_PATH: NCCL would fall back to sockets" >&2; exit 1; \
    fi \
 && echo "aws-ofi-nccl: $plugins" \
 && fsdp_llama --help >/dev/null
EXPOSE 22
