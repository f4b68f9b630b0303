#!/usr/bin/env python3
"""clang-tidy over the build's compile_commands.json, with the checks of .clang-tidy; CI wants
zero findings (scripts/test.sh runs it after the build).

  scripts/tidy.py [--build-dir DIR] [--jobs N] [--cache DIR] [--list] [FILE...]

Our C++ sources only: .cu files are dropped (clang cannot take nvcc's dialect with our flags),
and so are generated ones. Two things keep it quick:
  - GCC's precompiled headers are useless to clang, so each distinct (header, flags) pair is
    precompiled once with clang (the PCH lives in the cache) and every file of that target
    includes it: libtorch's headers are parsed once per target, not once per file.
  - A clean result is cached by everything that decides it: clang-tidy's version, .clang-tidy,
    the flags, the file and every header of this tree it includes (ninja's dependency log),
    with the clone's path taken out, so that every clone of the same tree shares the cache.
    An unchanged file is not analysed again; findings are never cached.
The cache lives outside the clone (default /opt/dtbench/tidy-cache), so fresh clones reuse it.
Exit: 0 clean, 1 findings (printed, with file:line and the check), 2 bad usage or no build.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

TIDY = "clang-tidy-14"
CLANG = "clang++-14"
CLANG_C = "clang-14"  # for the C files (benchmarks/peers)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# GCC options clang does not know (none today); dropped from the commands clang sees.
GCC_ONLY = {"-Winvalid-pch"}


def die(msg):
    print(f"[tidy] {msg}", file=sys.stderr)
    sys.exit(2)


def sha(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()


def in_clone(text):
    """`text` with this clone's path replaced, so that every clone shares the cache."""
    return text.replace(ROOT, "<root>")


def file_hash(path, memo={}):
    if path not in memo:
        try:
            with open(path, "rb") as f:
                memo[path] = sha(in_clone(path), f.read())
        except OSError:
            memo[path] = sha(in_clone(path), "missing")
    return memo[path]


def ninja_deps(build):
    """Object path (relative to the build folder) -> the headers of this tree it read."""
    out = subprocess.run(["ninja", "-C", build, "-t", "deps"], capture_output=True, text=True, check=True).stdout
    deps, current = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace():
            current = line.split(":", 1)[0]
            deps[current] = []
        elif line.strip() and current is not None:
            p = os.path.normpath(os.path.join(build, line.strip()))
            if p.startswith(ROOT + os.sep):
                deps[current].append(p)
    return deps


class Entry:
    """One file's command, split into what clang needs: the flags (the target's), the PCH
    header GCC was told to include (if any) and the file."""

    def __init__(self, e, build):
        args = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
        self.file = os.path.normpath(os.path.join(e["directory"], e["file"]))
        self.output = e.get("output", "")
        self.pch = None
        flags, i = [], 1  # args[0] is the compiler
        while i < len(args):
            a = args[i]
            if a in ("-o", "-c"):
                i += 2 if a == "-o" else 1
                if a == "-c":
                    i += 1  # the file
                continue
            if a == "-include" and args[i + 1].endswith("cmake_pch.hxx"):
                self.pch = self.pch_header(args[i + 1])
                i += 2
                continue
            if a not in GCC_ONLY:
                flags.append(a)
            i += 1
        self.flags = flags

    @staticmethod
    def pch_header(hxx):
        """The header CMake's cmake_pch.hxx wraps (core/pch.h or core/torch_pch.h)."""
        text = open(hxx).read()
        m = re.search(r'#include "([^"]+)"', text)
        if not m:
            die(f"{hxx}: no #include in CMake's PCH wrapper")
        return m.group(1)


def run(cmd, cwd=None):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--cache", default=os.environ.get("DTBENCH_TIDY_CACHE", "/opt/dtbench/tidy-cache"))
    ap.add_argument("--list", action="store_true", help="list each file's cache key and state; analyse nothing")
    ap.add_argument("files", nargs="*", help="only these sources (default: all)")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    db = os.path.join(build, "compile_commands.json")
    if not os.path.exists(db):
        die(f"no {db}: build first (scripts/build.sh)")
    for tool in (TIDY, CLANG):
        if run(["which", tool]).returncode != 0:
            die(f"{tool} not found: run scripts/setup.sh (Debian's clang-tidy-14)")
    version = run([TIDY, "--version"]).stdout
    config = open(os.path.join(ROOT, ".clang-tidy"), "rb").read()
    wanted = {os.path.abspath(f) for f in a.files}

    entries, seen = [], set()
    for e in json.load(open(db)):
        x = Entry(e, build)
        if x.file.endswith(".cu") or not x.file.startswith(ROOT + os.sep) or x.file.startswith(build + os.sep):
            continue
        if x.file in seen or (wanted and x.file not in wanted):
            continue  # an object library's file compiled for two targets: once is enough
        seen.add(x.file)
        entries.append(x)
    if wanted - seen:
        die(f"not in {db}: {' '.join(sorted(wanted - seen))}")
    deps = ninja_deps(build)
    os.makedirs(os.path.join(a.cache, "clean"), exist_ok=True)
    os.makedirs(os.path.join(a.cache, "pch"), exist_ok=True)

    def key(x):
        headers = sorted(set(deps.get(x.output, [])) | ({x.pch} if x.pch else set()))
        return sha(version, config, in_clone(" ".join(x.flags)), in_clone(x.pch or ""), file_hash(x.file),
                   *map(file_hash, headers))

    todo = [x for x in entries if not os.path.exists(os.path.join(a.cache, "clean", key(x)))]
    if a.list:
        for x in entries:
            print(f"{'analyse' if x in todo else 'clean  '} {key(x)[:16]} {os.path.relpath(x.file, ROOT)}")
        return 0
    print(f"[tidy] {len(entries)} files, {len(entries) - len(todo)} clean in the cache, {len(todo)} to analyse")

    # One clang PCH per (header, flags): made once, kept in the cache under its key.
    def pch_key(x):
        return sha(version, "no-timestamp", x.pch, file_hash(x.pch), " ".join(x.flags))
    pchs = {}
    for x in todo:
        if x.pch:
            pchs.setdefault(pch_key(x), (x.pch, x.flags))
    def make_pch(k):
        header, flags = pchs[k]
        out = os.path.join(a.cache, "pch", k + ".pch")
        if os.path.exists(out):
            return k, None
        tmp = f"{out}.{os.getpid()}.tmp"
        # Without timestamps: clang would refuse the PCH in the next fresh clone (every header's
        # mtime is new there) although the key proves the contents unchanged.
        r = run([CLANG, *flags, "-Wno-everything", "-Xclang", "-fno-pch-timestamp", "-x", "c++-header", header,
                 "-o", tmp])
        if r.returncode != 0:
            return k, r.stderr[-3000:]
        os.replace(tmp, out)
        return k, None
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for k, err in pool.map(make_pch, list(pchs)):
            if err:
                die(f"clang could not precompile {pchs[k][0]}:\n{err}")

    header_filter = f"^{re.escape(ROOT)}/(benchmarks|core|kernels|launch|tests|tools)/"
    def tidy(x):
        flags = list(x.flags)
        if x.pch:
            flags += ["-include-pch", os.path.join(a.cache, "pch", pch_key(x) + ".pch")]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "compile_commands.json"), "w") as f:
                compiler = CLANG_C if x.file.endswith(".c") else CLANG
                json.dump([{"directory": build, "file": x.file, "arguments": [compiler, *flags, "-c", x.file]}], f)
            r = run([TIDY, "-p", d, "--quiet", f"--header-filter={header_filter}", x.file])
        findings = [l for l in r.stdout.splitlines() if re.search(r": (warning|error): ", l)]
        if r.returncode == 0 and not findings:
            open(os.path.join(a.cache, "clean", key(x)), "w").close()
            return x, None
        return x, (r.stdout + r.stderr).strip()

    reports = {}
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for x, out in pool.map(tidy, todo):
            if out:
                reports[x.file] = out
    if not reports:
        print(f"[tidy] clean: {len(entries)} files")
        return 0
    # A header's finding appears once per file that includes it: print each once.
    shown = set()
    for f in sorted(reports):
        block, lines = [], reports[f].splitlines()
        for i, l in enumerate(lines):
            m = re.match(r"^(/\S+:\d+:\d+): (warning|error): .*", l)
            if m and m.group(0) not in shown:
                shown.add(m.group(0))
                block.append(l.replace(ROOT + "/", ""))
        print("\n".join(block) if block else f"{f}: clang-tidy failed:\n{reports[f][-2000:]}")
    print(f"[tidy] {len(shown)} findings in {len(reports)} files (checks: .clang-tidy)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
