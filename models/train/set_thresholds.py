#!/usr/bin/env python3
"""Set per-label default thresholds in a model's metadata (no retraining).

    python3 models/train/set_thresholds.py MODEL.onnx alexa=0.99 computer=0.98 ...

The thresholds live in the ONNX metadata_props["wakeguard"] JSON that the
Rust loader reads. Values must be in (0, 1].
"""
import json
import sys

import onnx


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path = sys.argv[1]
    m = onnx.load(path)
    entry = next(p for p in m.metadata_props if p.key == "wakeguard")
    meta = json.loads(entry.value)
    for arg in sys.argv[2:]:
        label, value = arg.split("=")
        if label not in meta["thresholds"]:
            sys.exit(f"unknown label {label!r}; labels: {sorted(meta['thresholds'])}")
        v = float(value)
        if not 0.0 < v <= 1.0:
            sys.exit(f"{label}: threshold {v} outside (0, 1]")
        meta["thresholds"][label] = v
    entry.value = json.dumps(meta, sort_keys=True)
    onnx.save(m, path)
    print(json.dumps(meta["thresholds"], sort_keys=True))


if __name__ == "__main__":
    main()
