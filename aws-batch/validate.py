#!/usr/bin/env python3
"""validate.py FILE.json ...: AWS Batch requests checked offline before they are sent.

Each file is a RegisterJobDefinition request (it has jobDefinitionName) or a SubmitJob request
(jobName). botocore's own request validator checks it against the Batch API model (types,
required fields, enums); no AWS call is made. Then what botocore does not check, for our
multi-node parallel jobs: the node ranges cover nodes 0..numNodes-1 exactly once, the main node
is one of them, and every range's container runs dtbench-launch, asks for as many GPUs as
NPROC_PER_NODE, has the EFA devices (/dev/infiniband/uverbs*), shared memory and an unlimited
memlock ulimit, and takes DTBENCH_JOB_TOKEN from a secret (never the environment). Every
Ref::NAME in a command has a default in parameters. Prints one line per problem, naming the
file and the field; exit 0 when all are valid, 1 when one is not, 2 on unreadable input."""
import json
import re
import sys

import botocore.session
import botocore.validate

MIN_SHM_MIB = 8192


def node_range(text, count):
    """The nodes of a targetNodes range ("0:", ":3", "1:2", "4") or None when malformed."""
    m = re.fullmatch(r"(\d*)(:?)(\d*)", text)
    if not m or not (m.group(1) or m.group(3)):
        return None
    if not m.group(2):
        return {int(m.group(1))}
    lo = int(m.group(1) or 0)
    hi = int(m.group(3)) if m.group(3) else count - 1
    return set(range(lo, hi + 1))


def our_checks(req):
    """What botocore does not check, for a multi-node job definition: [(field, problem)]."""
    found = []
    if req.get("type") != "multinode":
        return [("type", "dtbench's definitions are multi-node parallel jobs: want 'multinode'")]
    nodes = req["nodeProperties"]
    count, covered = nodes["numNodes"], {}
    if not nodes["mainNode"] in range(count):
        found.append(("nodeProperties.mainNode", f"{nodes['mainNode']} is not a node of 0..{count - 1}"))
    defaults = req.get("parameters", {})
    for i, r in enumerate(nodes["nodeRangeProperties"]):
        where = f"nodeProperties.nodeRangeProperties[{i}]"
        members = node_range(r["targetNodes"], count)
        if members is None:
            found.append((f"{where}.targetNodes", f"'{r['targetNodes']}' is not a range (e.g. '0:', '1:3', '2')"))
            continue
        for n in sorted(members):
            if n >= count:
                found.append((f"{where}.targetNodes", f"node {n} is beyond numNodes {count}"))
            elif n in covered:
                found.append((f"{where}.targetNodes", f"node {n} is also in range {covered[n]}"))
            else:
                covered[n] = i
        c = r.get("container", {})
        cmd = c.get("command", [])
        if not cmd or cmd[0] != "dtbench-launch":
            found.append((f"{where}.container.command", "must start with dtbench-launch (one launcher per node)"))
        for ref in sorted({m for a in cmd for m in re.findall(r"Ref::(\w+)", a)} - set(defaults)):
            found.append((f"{where}.container.command", f"Ref::{ref} has no default in parameters"))
        env = {e["name"]: e["value"] for e in c.get("environment", [])}
        gpus = [x["value"] for x in c.get("resourceRequirements", []) if x["type"] == "GPU"]
        if env.get("NPROC_PER_NODE") != (gpus[0] if gpus else None):
            found.append((f"{where}.container.environment", f"NPROC_PER_NODE {env.get('NPROC_PER_NODE')} is not "
                          f"the GPUs asked for ({gpus[0] if gpus else 'none'}): one rank per GPU"))
        if "DTBENCH_JOB_TOKEN" in env:
            found.append((f"{where}.container.environment", "DTBENCH_JOB_TOKEN in plain text: take it from secrets"))
        if "DTBENCH_JOB_TOKEN" not in {s["name"] for s in c.get("secrets", [])}:
            found.append((f"{where}.container.secrets", "no DTBENCH_JOB_TOKEN: the ranks of the nodes must prove one"))
        lp = c.get("linuxParameters", {})
        if not any(d["hostPath"].startswith("/dev/infiniband/uverbs") for d in lp.get("devices", [])):
            found.append((f"{where}.container.linuxParameters.devices", "no EFA device (/dev/infiniband/uverbsN)"))
        if lp.get("sharedMemorySize", 0) < MIN_SHM_MIB:
            found.append((f"{where}.container.linuxParameters.sharedMemorySize",
                          f"{lp.get('sharedMemorySize', 0)} MiB: NCCL needs at least {MIN_SHM_MIB}"))
        memlock = [u for u in c.get("ulimits", []) if u["name"] == "memlock"]
        if not memlock or memlock[0]["softLimit"] != -1 or memlock[0]["hardLimit"] != -1:
            found.append((f"{where}.container.ulimits", "memlock must be unlimited (-1) for EFA"))
    missing = sorted(set(range(count)) - set(covered))
    if missing:
        found.append(("nodeProperties.nodeRangeProperties", f"nodes {missing} are in no range"))
    return found


def main(paths):
    model = botocore.session.get_session().get_service_model("batch")
    validator = botocore.validate.ParamValidator()
    bad = False
    for path in paths:
        try:
            req = json.load(open(path))
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read it as JSON: {e}")
            return 2
        op = "RegisterJobDefinition" if "jobDefinitionName" in req else "SubmitJob" if "jobName" in req else None
        if op is None:
            print(f"{path}: neither a RegisterJobDefinition (jobDefinitionName) nor a SubmitJob (jobName) request")
            bad = True
            continue
        report = validator.validate(req, model.operation_model(op).input_shape)
        problems = [line.strip() for line in report.generate_report().splitlines() if line.strip()] \
            if report.has_errors() else []
        if not problems and op == "RegisterJobDefinition":
            problems = [f"{field}: {what}" for field, what in our_checks(req)]
        for p in problems:
            print(f"{path}: {op}: {p}")
        if problems:
            bad = True
        else:
            print(f"ok   {path}: {op}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
