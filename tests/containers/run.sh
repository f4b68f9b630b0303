#!/usr/bin/env bash
# containers/ without a Docker engine: both Dockerfiles pass hadolint (setup.sh installs it into
# the venv) and our own checker; a deliberately bad Dockerfile fails both, with the expected
# rules, so that neither can pass everything silently; then the CPU image's build stage runs
# directly on this machine (cpu_build_steps.sh).
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
here="$DTBENCH_SRC/tests/containers"
check="$here/check_dockerfiles.py"
hadolint="$DTBENCH_VENV/bin/hadolint"
dockerfiles=("$DTBENCH_SRC/containers/cuda.Dockerfile" "$DTBENCH_SRC/containers/cpu.Dockerfile")
lint() { "$hadolint" --no-color --config "$DTBENCH_SRC/containers/hadolint.yaml" "$@"; }

# expect_ids WHAT FILE ID...: every ID appears in FILE.
expect_ids() {
  local what="$1" file="$2" id missing=()
  shift 2
  for id in "$@"; do grep -q "$id" "$file" || missing+=("$id"); done
  if [ "${#missing[@]}" -eq 0 ]; then pass "$what: $# rules found"
  else fail "$what: missing ${missing[*]}"; sed 's/^/    /' "$file" | head -30; fi
}

if [ -x "$hadolint" ]; then
  if lint "${dockerfiles[@]}" >"$WORK/lint" 2>&1; then pass "hadolint $("$hadolint" --version | awk '{print $NF}'): cuda and cpu Dockerfiles"
  else fail "hadolint:"; sed 's/^/    /' "$WORK/lint" | head -20; fi
else
  fail "hadolint is not in $DTBENCH_VENV: run scripts/setup.sh"
fi
if python3 "$check" "${dockerfiles[@]}" >"$WORK/check" 2>&1; then pass "check_dockerfiles: cuda and cpu Dockerfiles"
else fail "check_dockerfiles:"; sed 's/^/    /' "$WORK/check" | head -20; fi

# One violation per rule (bad), and syntax that does not parse (broken).
cat >"$WORK/bad.Dockerfile" <<'EOF'
RUN echo before any stage
FROM ubuntu AS base
FROM debian:latest AS base
WORKDIR src
ENV MODE fast
COPY --from=later /x /x
RUN apt-get update && apt-get install curl
RUN sudo make install
RUN make; make install
CMD fsdp_llama --help
MAINTAINER someone
RUN pip install numpy
ENV LEVEL=${UNDECLARED}
ARG X=1 # not a comment
FROM scratch AS later
EOF
printf 'FROM debian:12\nFORM typo\nRUN echo a \\\n\nRUN <<EOF\necho never closed\n' >"$WORK/broken.Dockerfile"
rc=0
python3 "$check" "$WORK/bad.Dockerfile" "$WORK/broken.Dockerfile" >"$WORK/bad.out" 2>&1 || rc=$?
if [ "$rc" -eq 1 ]; then pass "check_dockerfiles fails the bad Dockerfiles (exit 1)"; else fail "check_dockerfiles on bad Dockerfiles: exit $rc, want 1"; fi
expect_ids "check_dockerfiles, bad" "$WORK/bad.out" DT001 DT005 DT012 DT014 DT017
if grep -qx "$WORK/bad.Dockerfile:5: DT014 'ENV MODE fast'" "$WORK/bad.out"; then pass "a problem names file:line"
else fail "no line '$WORK/bad.Dockerfile:5: DT014 ...'"; fi
# The rules hadolint has are left to it: none of them is reported twice.
if grep -qE ': DT0(0[2346789]|1[0356]) ' "$WORK/bad.out"; then fail "a rule hadolint has is checked again:"; cat "$WORK/bad.out"
else pass "no rule of hadolint's is repeated"; fi
if [ -x "$hadolint" ]; then
  rc=0
  lint "$WORK/bad.Dockerfile" >"$WORK/hbad.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then pass "hadolint fails the bad Dockerfile (exit $rc)"; else fail "hadolint passed the bad Dockerfile"; fi
  expect_ids "hadolint, bad" "$WORK/hbad.out" DL3000 DL3004 DL3006 DL3007 DL3014 DL3015 DL3022 DL3024 DL3025 DL3042 \
    DL3061 DL4000
fi
# A stage that cannot run outside Docker says why instead of running something else.
expect_exit 2 "--steps refuses the runtime stage (COPY --from)" -- \
  python3 "$check" --steps runtime --context "$DTBENCH_SRC" "$DTBENCH_SRC/containers/cpu.Dockerfile"

if bash "$here/cpu_build_steps.sh" >"$WORK/steps.out" 2>&1; then
  pass "cpu.Dockerfile's build stage on this machine: $(grep -c '^ok' "$WORK/steps.out") checks"
  grep '^ok   step' "$WORK/steps.out" | sed 's/^/    /' || true
else
  fail "cpu.Dockerfile's build stage on this machine:"; sed 's/^/    /' "$WORK/steps.out" | tail -40
fi
finish
