"""dtbench-validate RECORD.json [...]: checks result records against results/schema/
(dtbench.result/v1). Prints one line per record: "ok PATH" or "invalid PATH: WHAT at WHERE";
exits 0 when all are valid, 2 otherwise (a record is this tool's input).

Stricter than JSON itself, as every results tool reads records: NaN and Infinity (and numbers
that overflow to them) are invalid, integers must fit 64 bits, and nesting deeper than 64
levels is refused."""
import functools
import json
import math
import os
import sys

import jsonschema

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results", "schema")
KNOWN = {"dtbench.result/v1": "dtbench.result.v1.json"}
MAX_DEPTH = 64


def _reject_constant(name):
    raise ValueError(f"{name} is not a number a record may hold")


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a 64-bit float")
    return value


def _int64(text):
    value = int(text)
    if not -2**63 <= value < 2**64:
        raise ValueError(f"{text} does not fit 64 bits")
    return value


def _too_deep(value):
    """The path of the first value nested deeper than MAX_DEPTH, or None (iterative: a crafted
    file must not exhaust the interpreter's stack)."""
    stack = [(value, 0, "")]
    while stack:
        v, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            return where or "(top)"
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        stack.extend((child, depth + 1, f"{where}/{key}" if where else str(key)) for key, child in items)
    return None


def parse(text):
    """The JSON value in `text` under the rules above; ValueError says what is wrong."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_int64)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    where = _too_deep(value)
    if where:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels at {where}")
    return value


def read(path):
    """The JSON value in the file `path`; OSError or ValueError say what is wrong."""
    with open(path, encoding="utf-8") as f:
        return parse(f.read())


@functools.lru_cache(maxsize=None)
def _validator(version):
    with open(os.path.join(SCHEMA_DIR, KNOWN[version]), encoding="utf-8") as f:
        return jsonschema.Draft202012Validator(json.load(f))


def problems(record):
    """The reasons `record` is not a valid record (empty when it is)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    version = record.get("schema")
    if not isinstance(version, str) or version not in KNOWN:
        return [f"unknown schema version {version!r} (this tool knows {', '.join(KNOWN)})"]
    return [f"{e.message} at {'/'.join(map(str, e.absolute_path)) or '(top)'}"
            for e in sorted(_validator(version).iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))]


class BadRecord(Exception):
    """A record file that cannot be read or is not a valid record (the message says which)."""


def load_record(path):
    """The record in `path`; raises BadRecord naming the file and the first problem."""
    try:
        record = read(path)
    except (OSError, ValueError) as e:
        raise BadRecord(f"{path}: cannot read it as a JSON record ({e})")
    found = problems(record)
    if found:
        raise BadRecord(f"{path}: not a valid record: {found[0]}")
    return record


def load_records(paths, tool):
    """[(path, record)] of every path, or None after printing "<tool>: <problem>" (exit 2)."""
    try:
        return [(p, load_record(p)) for p in paths]
    except BadRecord as e:
        print(f"{tool}: {e}", file=sys.stderr)
        return None


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    bad = 0
    for path in argv:
        try:
            record = read(path)
        except (OSError, ValueError) as e:
            print(f"invalid {path}: cannot read it as a JSON record ({e})")
            bad += 1
            continue
        found = problems(record)
        if found:
            bad += 1
            print(f"invalid {path}: " + "; ".join(found[:5]))
        else:
            print(f"ok {path}")
    return 2 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
