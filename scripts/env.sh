# shellcheck shell=bash
# Where setup puts things; sourced by the other scripts. Override by exporting first.
: "${DTBENCH_TORCH_VERSION:=2.11.0}"
: "${DTBENCH_TORCH_CUDA:=13.0}"
: "${DTBENCH_K8S_VALIDATE_VERSION:=1.37.0}"
: "${DTBENCH_HADOLINT_VERSION:=2.15.1}"
# Hugging Face transformers: the independent reference of the model tests (RoPE scaling).
: "${DTBENCH_TRANSFORMERS_VERSION:=4.57.6}"
# botocore: its own request validator checks aws-batch/ offline (no AWS call).
: "${DTBENCH_BOTOCORE_VERSION:=1.44.18}"
# grafana-foundation-sdk: builds and parses the Grafana dashboard (an epoch!Grafana-version).
: "${DTBENCH_GRAFANA_SDK_VERSION:=1769699379!11.6.0}"
# The fixed Python environment that holds the torch wheel (libtorch for C++ comes from it).
# It lives outside the clone so that a fresh clone (CI) reuses it when the version matches.
: "${DTBENCH_VENV:=/opt/dtbench/venv}"
: "${DTBENCH_BUILD_DIR:=build}"
export DTBENCH_TORCH_VERSION DTBENCH_TORCH_CUDA DTBENCH_K8S_VALIDATE_VERSION DTBENCH_HADOLINT_VERSION
export DTBENCH_TRANSFORMERS_VERSION DTBENCH_BOTOCORE_VERSION DTBENCH_GRAFANA_SDK_VERSION
export DTBENCH_VENV DTBENCH_BUILD_DIR
