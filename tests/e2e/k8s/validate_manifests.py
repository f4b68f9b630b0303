#!/usr/bin/env python3
"""Offline checks of every manifest under k8s/.

Core kinds: against the Kubernetes OpenAPI schemas of the oldest and the newest version
kubernetes-validate packages, strict (kubernetes-validate: unknown fields fail). Operator kinds
(PyTorchJob, MPIJob): against the openAPIV3Schema of their CRD (copies in crds/), plus a walk
that rejects fields the schema does not declare. The plain Jobs also keep the launch
contract: the pods' subdomain names the headless Service (publishNotReadyAddresses), the
rendezvous address is <job>-0.<service>, Indexed completion with completions = parallelism =
NNODES, backoffLimit 0, a deadline, GPUs, EFA, hugepages with memory, /dev/shm in memory, and
the rendezvous timeout passed as --comm-timeout. Finally, a manifest with an unknown field
must be rejected, by both paths. Prints one line per document; exits 1 on any failure."""
import copy
import glob
import os
import sys

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CRDS = os.path.join(os.path.dirname(__file__), "crds")
# The oldest and newest Kubernetes schemas kubernetes-validate packages (1.25 is its oldest;
# nothing the manifests use changed between 1.24 and 1.25).
_all = kubernetes_validate.utils.all_versions()
VERSIONS = [_all[0], _all[-1]]
failures = []


def fail(where, why):
    failures.append(f"{where}: {why}")
    print(f"FAIL {where}: {why}")


def crd_schema(api_version, kind):
    group, version = api_version.split("/")
    for path in glob.glob(os.path.join(CRDS, "*.yaml")):
        crd = yaml.safe_load(open(path))
        if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
            for v in crd["spec"]["versions"]:
                if v["name"] == version:
                    return v["schema"]["openAPIV3Schema"]
    return None


def unknown_fields(data, schema, path="$"):
    """Keys the schema does not declare (where it does not preserve unknown fields)."""
    out = []
    if isinstance(data, dict) and isinstance(schema, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return out
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in data.items():
            if props is not None and k in props:
                out += unknown_fields(v, props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                out += unknown_fields(v, extra, f"{path}.{k}")
            elif props is not None:
                out.append(f"{path}.{k}")
    elif isinstance(data, list) and isinstance(schema, dict) and "items" in schema:
        for i, v in enumerate(data):
            out += unknown_fields(v, schema["items"], f"{path}[{i}]")
    return out


def check_operator(doc, where):
    schema = crd_schema(doc["apiVersion"], doc["kind"])
    if schema is None:
        return fail(where, f"no CRD for {doc['apiVersion']} {doc['kind']} in {CRDS}")
    errors = []
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        errors.append(f"schema: {e.message} at {'/'.join(map(str, e.absolute_path))}")
    errors += [f"unknown field {f}" for f in unknown_fields(doc, schema)]
    return errors


def check_core(doc):
    errors = []
    for v in VERSIONS:
        try:
            kubernetes_validate.validate(doc, v, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"Kubernetes {v}: {e.message} at {'/'.join(map(str, e.path))}")
    return errors


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def check_contract(docs, where):
    services = [d for d in docs if d["kind"] == "Service"]
    jobs = [d for d in docs if d["kind"] == "Job"]
    if len(services) != 1 or len(jobs) != 1:
        return [f"wants one Service and one Job, has {len(services)} and {len(jobs)}"]
    svc, job = services[0], jobs[0]
    errs = []
    name, sname = job["metadata"]["name"], svc["metadata"]["name"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = env_of(c)
    want = {
        "headless Service": svc["spec"].get("clusterIP") == "None",
        "publishNotReadyAddresses": svc["spec"].get("publishNotReadyAddresses") is True,
        "Service selects the Job's pods": svc["spec"].get("selector") == {"job-name": name},
        "subdomain names the Service": pod.get("subdomain") == sname,
        "Indexed completion": spec.get("completionMode") == "Indexed",
        "completions = parallelism = NNODES": spec.get("completions") == spec.get("parallelism") == int(env.get("NNODES", -1)),
        "backoffLimit 0": spec.get("backoffLimit") == 0,
        "activeDeadlineSeconds": spec.get("activeDeadlineSeconds", 0) > 0,
        "restartPolicy Never": pod.get("restartPolicy") == "Never",
        "rendezvous at <job>-0.<service>": env.get("MASTER_ADDR") == f"{name}-0.{sname}",
        "launcher first": c["command"][0] == "dtbench-launch",
        "rendezvous timeout as --comm-timeout": "$(RENDEZVOUS_TIMEOUT)" in c.get("args", []),
        "GPUs, EFA, hugepages and memory": all(k in c["resources"]["limits"] for k in
                                                ("nvidia.com/gpu", "vpc.amazonaws.com/efa", "hugepages-2Mi", "memory")),
        "/dev/shm in memory": any(m["mountPath"] == "/dev/shm" and any(v["name"] == m["name"] and
                                  v.get("emptyDir", {}).get("medium") == "Memory" for v in pod["volumes"])
                                  for m in c.get("volumeMounts", [])),
    }
    return [f"contract: {k}" for k, ok in want.items() if not ok]


def main():
    paths = sorted(glob.glob(os.path.join(ROOT, "k8s", "**", "*.yaml"), recursive=True))
    if not paths:
        fail("k8s/", "no manifests")
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        for d in docs:
            where = f"{rel} {d['kind']}/{d['metadata']['name']}"
            errs = check_operator(d, where) if "kubeflow.org" in d["apiVersion"] else check_core(d)
            for e in errs or []:
                fail(where, e)
            if not errs:
                print(f"ok   {where}")
        if os.path.dirname(rel) == "k8s":
            for e in check_contract(docs, rel):
                fail(rel, e)
            if not check_contract(docs, rel):
                print(f"ok   {rel}: launch contract")
    # The checks can fail: an unknown field is rejected on both paths.
    job = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "k8s", "megatron.yaml"))) if d["kind"] == "Job"][0]
    bad = copy.deepcopy(job)
    bad["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    if not check_core(bad):
        fail("negative control", "a Job with an unknown container field passed")
    op = yaml.safe_load(open(os.path.join(ROOT, "k8s", "operators", "fsdp-pytorchjob.yaml")))
    bad = copy.deepcopy(op)
    bad["spec"]["pytorchReplicaSpecs"]["Master"]["bogus"] = 1
    if not check_operator(bad, "negative control"):
        fail("negative control", "a PyTorchJob with an unknown field passed")
    else:
        print("ok   negative controls: unknown fields are rejected")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
