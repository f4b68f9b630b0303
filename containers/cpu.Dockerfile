# syntax=docker/dockerfile:1
# dtbench for CPU runs (Open MPI over TCP, the store backend): Debian 12, set up and built by the
# repository's own scripts. From the repository root:
#   docker build -f containers/cpu.Dockerfile -t dtbench:cpu .
# The build stage's steps are plain shell lines in the WORKDIR, so that they also run directly
# on a Debian 12 machine (tests/containers/cpu_build_steps.sh runs them there).
ARG DEBIAN=debian:12-slim

# ---- build: scripts/setup.sh (Debian packages, the venv with torch), scripts/build.sh -------
FROM ${DEBIAN} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /opt/dtbench/src
COPY scripts/env.sh scripts/setup.sh scripts/
RUN bash scripts/setup.sh
COPY . .
# dist/ holds what the runtime stage takes: the executables, in build/'s layout. The CPU half
# only: no CUDA toolkit is needed (cmake/torch_cpu_only.cmake), none is installed.
RUN --mount=type=cache,target=/opt/dtbench/ccache \
    bash scripts/build.sh -DBUILD_TESTING=OFF -DDTBENCH_CUDA=OFF \
 && mkdir -p dist \
 && find build/benchmarks build/launch build/tools -maxdepth 1 -type f -perm -u+x -exec cp --parents -t dist {} +

# ---- runtime: Open MPI, libfabric, Python for the venv, the binaries ---------------------
FROM ${DEBIAN} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfabric1 libopenmpi3 openmpi-bin openssh-client procps python3 \
 && rm -rf /var/lib/apt/lists/*
# The venv keeps its build path: the binaries' RUNPATH points into it (libtorch).
COPY --from=build /opt/dtbench/venv /opt/dtbench/venv
COPY --from=build /opt/dtbench/src/dist/ /opt/dtbench/
# vader's single-copy (CMA) needs ptrace rights that containers do not get by default.
ENV PATH=/opt/dtbench/build/benchmarks:/opt/dtbench/build/launch:/opt/dtbench/build/tools:${PATH} \
    OMPI_MCA_btl_vader_single_copy_mechanism=none \
    DTBENCH_BIN=/opt/dtbench/build \
    DTBENCH_VENV=/opt/dtbench/venv
RUN fsdp_llama --model tiny --dry-run >/dev/null
