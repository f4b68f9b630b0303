#!/usr/bin/env python3
"""run_pods.py MANIFEST HOSTS_FILE|--cluster DIR [SECRET/KEY:=VALUE ...] [NAME=VALUE ...]

Runs the container command of every pod of a plain manifest's Indexed Job as local
processes, the way the cluster would: the Job's env with the overrides applied (CPU
settings), JOB_COMPLETION_INDEX per pod, secretKeyRef values from the SECRET/KEY:=VALUE
arguments (a pod whose Secret is missing does not start, as with the kubelet), $(VAR) references in command and args expanded
from the env as the kubelet does, and the image's programs found on PATH. Each pod runs in
a private mount namespace (unshare -m) with HOSTS_FILE bind-mounted over /etc/hosts, so
<job>-0.<service> can resolve to 127.0.0.1 without touching the machine's /etc/hosts.
With --cluster DIR, pod K runs on nodeK of the virtual cluster in DIR (tests/cluster/), whose
own hosts file the node's /etc/hosts is: each pod is a node, as on a real cluster.
Prints each pod's exit code and output tail; exits 0 when every pod exits 0."""
import os
import re
import shlex
import subprocess
import sys

import yaml


def main():
    manifest, rest = sys.argv[1], sys.argv[2:]
    cluster = None
    if rest[0] == "--cluster":
        cluster, rest = rest[1], rest[2:]
    else:
        hosts, rest = rest[0], rest[1:]
    secrets = dict(a.split(":=", 1) for a in rest if ":=" in a)
    overrides = dict(a.split("=", 1) for a in rest if ":=" not in a)
    job = next(d for d in yaml.safe_load_all(open(manifest)) if d and d["kind"] == "Job")
    pods = job["spec"]["completions"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    procs = []
    for index in range(pods):
        env = {}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            ref = e["valueFrom"]["secretKeyRef"]
            if f"{ref['name']}/{ref['key']}" not in secrets:
                print(f"    pod {index}: CreateContainerConfigError: secret {ref['name']!r} (key {ref['key']!r}) not found")
                return 1
            env[e["name"]] = secrets[f"{ref['name']}/{ref['key']}"]
        env.update(overrides)
        env["JOB_COMPLETION_INDEX"] = str(index)
        expand = lambda s: re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), s)
        argv = [expand(a) for a in c.get("command", []) + c.get("args", [])]
        os.makedirs(env.get("RESULTS_DIR", "."), exist_ok=True)
        if cluster:
            run = ["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../cluster/cluster.sh"),
                   "exec", cluster, f"node{index}", *argv]
        else:
            run = ["unshare", "-m", "sh", "-c", f"mount --bind {shlex.quote(hosts)} /etc/hosts && exec {shlex.join(argv)}"]
        full_env = dict(os.environ)
        full_env.update(env)
        log = open(os.path.join(env.get("RESULTS_DIR", "."), f"pod{index}.log"), "w")
        procs.append((index, subprocess.Popen(run, env=full_env, stdout=log, stderr=subprocess.STDOUT), log.name))
    worst = 0
    for index, p, log in procs:
        try:
            rc = p.wait(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = 124
        tail = open(log).read().splitlines()[-3:]
        print(f"    pod {index}: exit {rc}; " + " | ".join(tail))
        worst = worst or rc
    return worst


if __name__ == "__main__":
    sys.exit(main())
