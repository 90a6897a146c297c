"""Merge the records of one sweep folder into another (refits run apart, same settings).

    python scripts/merge_sweep_records.py out/sweep_b docs/sensitivity/sweep/records

Each record of SOURCE replaces the record of the same variant in DEST, or is
appended; the two folders must hold the same data, seed and sampler settings
(the identity a resumed sweep checks). DEST's records file is rewritten
atomically, and variants of SOURCE's grid that DEST's header lacks are added
to it (their descriptions and overrides, which the report reads). Used to
refit recorded variants (old-format records) without deleting them before
their refit has finished.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ceg.files import write_text_atomic
from ceg.sensitivity.refits import SWEEP_LAYOUT, read_sweep


def main(source: str, dest: str) -> None:
    """Merge SOURCE's records into DEST (see the module docstring)."""
    new, old = read_sweep(source), read_sweep(dest)
    for key in SWEEP_LAYOUT.identity_keys:
        if new.header.get(key) != old.header.get(key):
            sys.exit(f"{source} and {dest} differ in {key!r}: not the same sweep settings")
    incoming = {r["variant"]: r for r in new.records}
    lines, replaced = [], []
    for r in old.records:
        if r["variant"] in incoming:
            replaced.append(r["variant"])
            r = incoming.pop(r["variant"])
        lines.append(json.dumps(r))
    lines += [json.dumps(r) for r in incoming.values()]
    write_text_atomic(Path(dest) / SWEEP_LAYOUT.records_file, "\n".join(lines) + "\n")
    header_path = Path(dest) / SWEEP_LAYOUT.settings_file
    header = json.loads(header_path.read_text())
    added = sorted(set(new.header.get("variants", {})) - set(header.get("variants", {})))
    if added:
        header["variants"] = {**header.get("variants", {}),
                              **{n: new.header["variants"][n] for n in added}}
        write_text_atomic(header_path, json.dumps(header, indent=1) + "\n")
        print(f"{header_path}: grid variants added {added}")
    print(f"{dest}: replaced {replaced or 'none'}, added {sorted(incoming) or 'none'}; "
          f"{len(lines)} records")


if __name__ == "__main__":
    main(*sys.argv[1:3])
