#!/usr/bin/env python3
"""Our own Chrome Trace Event Format checker for dtbench's --trace files and merged traces.

  trace_check.py FILE [--cross-rank] [--expect-span NAME ...]

Per file: every event has name, ph, pid and tid (and ts, except metadata); complete slices
(ph X) have a duration >= 0 and nest per thread (a slice that starts inside another ends inside
it); B/E pairs balance per thread; every flow start (s) has its one finish (f), not before it.
--cross-rank (a merged trace): every communication op (cat comm) appears on every rank of its
group (args.group), with the same op and bytes, once per sequence number.
--expect-span NAME: some slice's name starts with NAME.
Exit 0 when all hold, 1 with one line per violation (at most 20) otherwise.
"""
import argparse
import collections
import json
import sys


def ranks_of(group):
    out = []
    for part in group.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def check(events, cross_rank, expect_spans):
    errors = []
    slices = collections.defaultdict(list)
    open_be = collections.defaultdict(list)
    flows = collections.defaultdict(lambda: {"s": [], "f": []})
    for i, e in enumerate(events):
        for key in ("name", "ph", "pid", "tid"):
            if key not in e:
                errors.append(f"event {i}: no '{key}': {e}")
        ph = e.get("ph")
        if ph != "M" and not isinstance(e.get("ts"), (int, float)):
            errors.append(f"event {i}: no numeric ts: {e}")
            continue
        thread = (e.get("pid"), e.get("tid"))
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                errors.append(f"event {i} '{e.get('name')}': ph X needs dur >= 0")
            else:
                slices[thread].append((e["ts"], e["ts"] + e["dur"], e.get("name")))
        elif ph == "B":
            open_be[thread].append(e)
        elif ph == "E":
            if not open_be[thread]:
                errors.append(f"event {i}: an end without a begin on {thread}")
            else:
                open_be[thread].pop()
        elif ph in ("s", "f"):
            flows[(e.get("cat"), e.get("id"))][ph].append(e["ts"])
        elif ph not in ("i", "I", "M", "C"):
            errors.append(f"event {i}: unexpected ph '{ph}'")
    for thread, left in open_be.items():
        if left:
            errors.append(f"{thread}: {len(left)} begin(s) without an end, e.g. '{left[-1].get('name')}'")
    eps = 1e-3  # µs: timestamps are printed with finite digits
    for thread, ss in slices.items():
        ss.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for begin, end, name in ss:
            while stack and stack[-1][1] <= begin + eps:
                stack.pop()
            if stack and end > stack[-1][1] + eps:
                errors.append(f"{thread}: '{name}' [{begin:.3f}, {end:.3f}] overlaps '{stack[-1][2]}' "
                              f"[{stack[-1][0]:.3f}, {stack[-1][1]:.3f}] without nesting in it")
            stack.append((begin, end, name))
    for key, f in flows.items():
        if len(f["s"]) != 1 or len(f["f"]) != 1:
            errors.append(f"flow {key}: {len(f['s'])} start(s), {len(f['f'])} finish(es)")
        elif f["f"][0] + eps < f["s"][0]:
            errors.append(f"flow {key}: finishes before it starts")
    if cross_rank:
        seen = collections.defaultdict(dict)  # (comm, group, seq) -> pid -> (op, bytes)
        for e in events:
            if e.get("ph") != "X" or e.get("cat") != "comm":
                continue
            a = e.get("args", {})
            key = (a.get("comm"), a.get("group"), a.get("seq"))
            if e["pid"] in seen[key]:
                errors.append(f"{key}: twice on rank {e['pid']}")
            seen[key][e["pid"]] = (a.get("op", "").replace(" in-place", "").replace(" out-of-place", ""), a.get("bytes"))
        if not seen:
            errors.append("no communication op (cat comm) in the trace")
        for (comm, group, seq), by_rank in sorted(seen.items(), key=lambda kv: str(kv[0])):
            want = set(ranks_of(group))
            if set(by_rank) != want:
                errors.append(f"'{comm}' #{seq}: on ranks {sorted(by_rank)}, its group is {group}")
            if len(set(by_rank.values())) > 1:
                errors.append(f"'{comm}' #{seq}: ranks disagree on it: {by_rank}")
    names = [s[2] for ss in slices.values() for s in ss]
    for want in expect_spans:
        if not any(n.startswith(want) for n in names):
            errors.append(f"no slice named '{want}...'")
    return errors


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--cross-rank", action="store_true")
    p.add_argument("--expect-span", action="append", default=[])
    a = p.parse_args()
    with open(a.file) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    errors = check(events, a.cross_rank, a.expect_span)
    for line in errors[:20]:
        print(f"{a.file}: {line}")
    if errors:
        sys.exit(1)
    print(f"{a.file}: {len(events)} events, Trace Event Format checks hold")


if __name__ == "__main__":
    main()
