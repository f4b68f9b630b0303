"""history.py FILE.jsonl SYSTEM RECORD...: appends each record, with its comparison key as
`_key`, as one line of FILE (the nightly history dtbench-compare and dtbench-report read).
Exit 2, appending nothing, when a record is not valid."""
import json
import sys

from compare import comparison_key, key_id
from validate import load_records

path, system = sys.argv[1], sys.argv[2]
loaded = load_records(sys.argv[3:], "history.py")
if loaded is None:
    sys.exit(2)
with open(path, "a", encoding="utf-8") as f:
    for _, record in loaded:
        record["_key"] = key_id(comparison_key(record, system))
        f.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
print(f"[nightly] {len(loaded)} record(s) appended to {path}", file=sys.stderr)
