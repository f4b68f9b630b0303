#!/usr/bin/env python3
"""Checks the layering table (layers.txt) against the tree and the built libraries.

  check_layering.py includes ROOT            every #include "..." of a layer's files names
                                             the layer itself or one it may use
  check_layering.py symbols BUILD LIB=LAYER...
                                             every symbol a layer's static libraries leave
                                             undefined is not defined by a library of a layer
                                             it may not use (nm): an upward dependency shows
                                             even where static-library link order hides it

Prints one line per violation ("FILE:LINE: layer X includes Y (layer Z)") and exits 1 when
there is any, 2 on bad usage.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def read_table(path=os.path.join(HERE, "layers.txt")):
    layers = {}  # name -> (folder, set of allowed layers)
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        name, folder, *uses = line
        layers[name] = (folder, set() if uses == ["-"] else set(uses))
    for name, (_, uses) in layers.items():
        unknown = uses - layers.keys()
        if unknown:
            sys.exit(f"layers.txt: layer {name} uses unknown layers {sorted(unknown)}")
    return layers


def layer_of(path, layers):
    """The layer whose folder holds `path` (relative to the root), or None."""
    best = None
    for name, (folder, _) in layers.items():
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(layers[best][0]):
                best = name
    return best


def check_includes(root, layers):
    errors = []
    for name, (folder, uses) in layers.items():
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for f in sorted(files):
                if not f.endswith((".h", ".cpp", ".cu", ".cuh")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                for lineno, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    if "/" not in target:  # a file beside it
                        continue
                    other = layer_of(target, layers)
                    if other is None:
                        if not os.path.exists(os.path.join(root, target)):
                            continue  # a dependency's header (e.g. "nccl.h" paths)
                        errors.append(f"{rel}:{lineno}: layer {name} includes {target}, which is in no layer")
                    elif other != name and other not in uses:
                        errors.append(f"{rel}:{lineno}: layer {name} includes {target} (layer {other}); "
                                      f"{name} may use: {' '.join(sorted(uses)) or 'nothing'}")
    return errors


def nm(path, flag):
    out = subprocess.run(["nm", flag, "--format=posix", path], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line and not line.endswith(":")}


def check_symbols(libs, layers):
    defined = {}  # symbol -> layer
    undefined = {}  # layer -> {symbol: library}
    for lib, layer in libs:
        for sym in nm(lib, "--defined-only"):
            defined.setdefault(sym, layer)
        for sym in nm(lib, "--undefined-only"):
            undefined.setdefault(layer, {})[sym] = lib
    errors = []
    for layer, syms in sorted(undefined.items()):
        uses = layers[layer][1]
        for sym, lib in sorted(syms.items()):
            owner = defined.get(sym)
            if owner is not None and owner != layer and owner not in uses:
                errors.append(f"{os.path.basename(lib)}: layer {layer} needs {sym} from layer {owner}")
    return errors


def main(argv):
    layers = read_table()
    if len(argv) == 2 and argv[0] == "includes":
        errors = check_includes(argv[1], layers)
        what = "includes"
    elif len(argv) >= 3 and argv[0] == "symbols":
        libs = []
        for spec in argv[2:]:
            lib, _, layer = spec.partition("=")
            if layer not in layers:
                print(f"check_layering: {spec}: give LIB=LAYER with a layer of layers.txt", file=sys.stderr)
                return 2
            path = os.path.join(argv[1], lib)
            if not os.path.isfile(path):
                print(f"check_layering: {path}: no such library (build first)", file=sys.stderr)
                return 2
            libs.append((path, layer))
        errors = check_symbols(libs, layers)
        what = "symbols"
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors:
        print(e)
    print(f"layering ({what}): {len(errors)} violation(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
