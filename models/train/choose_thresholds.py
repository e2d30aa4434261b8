#!/usr/bin/env python3
"""Choose the per-label default thresholds from a validation evaluation.

    cargo run --release --example evaluate -- stream --model M.onnx \\
        --list /work/data/streams/val_plus_all_background.csv --thresholds GRID --out EVAL
    python3 models/train/choose_thresholds.py EVAL/report.json --fa-per-hour 0.1

For every wake-word label with positives in the report, prints the lowest
threshold of the exact detector runs (report.json "det", one run per
threshold) whose false alarms per hour of background are at most the
target, and its miss rate; the last line is `label=threshold ...`, ready for
set_thresholds.py. With B hours of background a target below 1/B means
zero false alarms. Labels without positives (the intent and the answers)
are left out: their defaults are set from their own measurements.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--fa-per-hour", type=float, default=0.1)
    args = ap.parse_args()
    r = json.load(open(args.report))
    chosen = []
    for lab in r["labels"]:
        name = lab.get("label") or lab["summary"].get("label")
        det = [p for p in lab["det"] if p["fa_per_hour"] <= args.fa_per_hour]
        if not lab["summary"]["at_default_threshold"]["positives"] or not det:
            if lab["summary"]["at_default_threshold"]["positives"]:
                print(f"{name}: no threshold tried reaches {args.fa_per_hour} FA/h")
            continue
        best = min(det, key=lambda p: p["threshold"])
        bg = lab["summary"]["at_default_threshold"]["background_hours"]
        print(f"{name}: threshold {best['threshold']:.5g}, miss {100 * best['miss_rate']:.1f} %, "
              f"{best['false_alarms']} false alarms in {bg:.2f} h")
        chosen.append(f"{name}={best['threshold']:.5g}")
    print(" ".join(chosen))


if __name__ == "__main__":
    main()
