"""history.py FILE.jsonl SYSTEM RECORD...: appends each record, with its comparison key as
`_key`, as one line of FILE (the nightly history dtbench-compare and dtbench-report read)."""
import json
import sys

from compare import comparison_key, key_id

path, system = sys.argv[1], sys.argv[2]
with open(path, "a") as f:
    for rec_path in sys.argv[3:]:
        record = json.load(open(rec_path))
        record["_key"] = key_id(comparison_key(record, system))
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
print(f"[nightly] {len(sys.argv) - 3} record(s) appended to {path}", file=sys.stderr)
