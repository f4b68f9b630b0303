"""dtbench-validate RECORD.json [...]: checks result records against results/schema/
(dtbench.result/v1). Prints one line per record: "ok PATH" or "invalid PATH: WHAT at WHERE";
exits 0 when all are valid, 2 otherwise (a record is this tool's input)."""
import json
import os
import sys

import jsonschema

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results", "schema")
KNOWN = {"dtbench.result/v1": "dtbench.result.v1.json"}


def problems(record):
    """The reasons `record` is not a valid record (empty when it is)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    version = record.get("schema")
    if version not in KNOWN:
        return [f"unknown schema version {version!r} (this tool knows {', '.join(KNOWN)})"]
    schema = json.load(open(os.path.join(SCHEMA_DIR, KNOWN[version])))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{e.message} at {'/'.join(map(str, e.absolute_path)) or '(top)'}"
            for e in sorted(validator.iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))]


class BadRecord(Exception):
    """A record file that cannot be read or is not a valid record (the message says which)."""


def load_record(path):
    """The record in `path`; raises BadRecord naming the file and the first problem."""
    try:
        record = json.load(open(path))
    except (OSError, ValueError) as e:
        raise BadRecord(f"{path}: cannot read ({e})")
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
            record = json.load(open(path))
        except (OSError, ValueError) as e:
            print(f"invalid {path}: cannot read it as JSON ({e})")
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
