#!/usr/bin/env python3
"""Choose the recipient thresholds (scale, contact_min_score, contact_min_margin) on dev flows.

    cargo run --release --example flow_eval -- --split dev --flows-out /tmp/dev.jsonl \
        /work/data/name_flows/manifest.jsonl
    cargo run --release --example flow_eval -- --split test --flows-out /tmp/test.jsonl \
        /work/data/name_flows/manifest.jsonl
    python3 models/train/calibrate_names.py /tmp/dev.jsonl /tmp/test.jsonl

Reads flow_eval's per-flow match scores (best and runner-up contact, made with
MatchConfig::scale = --scale-used), recovers the distances d = -scale * ln(score)
and replays the gate's name rule for every (scale, min_score, min_margin) on a grid:
a flow reaches the read-back iff score >= min_score, margin >= min_margin and the
best contact is not blocked.

Criterion, in order: no read-back naming a wrong contact (intended flows) and
at most 1 % (--max-refusal-miss) of the must-refuse kinds (unknown, blocked;
"similar" is reported but not constrained, see --unconstrained) reaching a
read-back; then
the most intended flows read back with the right contact; ties go to the largest
thresholds (the safer point). Prints the chosen point and its neighbourhood.
Only flows whose name was cut out (a match was made) count: wake-word and intent
losses do not depend on these thresholds.
"""
import argparse
import json
import math

import numpy as np


def load(path, scale_used):
    rows = []
    for line in open(path):
        f = json.loads(line)
        m = f.get("match")
        if not m:
            continue
        d1 = -scale_used * math.log(max(m["score"], 1e-30))
        s2 = m.get("runner_up_score")
        d2 = -scale_used * math.log(max(s2, 1e-30)) if s2 is not None else math.inf
        rows.append(dict(kind=f["kind"], right=m["best"] == f["expect"], d1=d1, d2=d2,
                         blocked_best=m["best_blocked"]))
    return rows


def evaluate(rows, scale, min_score, min_margin):
    out = {}
    for r in rows:
        s1 = math.exp(-r["d1"] / scale)
        s2 = math.exp(-r["d2"] / scale) if math.isfinite(r["d2"]) else 0.0
        readback = s1 >= min_score and (s1 - s2) >= min_margin and not r["blocked_best"]
        k = out.setdefault(r["kind"], dict(n=0, right=0, wrong=0))
        k["n"] += 1
        if readback:
            k["right" if r["right"] else "wrong"] += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("flows", nargs="+", help="flow_eval --flows-out files (pooled)")
    ap.add_argument("--scale-used", type=float, default=3.0, help="MatchConfig::scale of the flow_eval run")
    ap.add_argument("--unconstrained", nargs="*", default=["similar"],
                    help="must-refuse kinds reported but left out of the constraint "
                         "(default: similar, the unenrolled names that begin like an enrolled one)")
    ap.add_argument("--max-refusal-miss", type=float, default=0.01,
                    help="largest share of must-refuse flows allowed to reach a read-back")
    args = ap.parse_args()
    rows = [r for f in args.flows for r in load(f, args.scale_used)]
    refuse_kinds = tuple(k for k in ("unknown", "similar", "blocked") if k not in args.unconstrained)
    best = None
    for scale in (0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0):
        for min_score in np.round(np.arange(0.05, 0.95, 0.01), 3):
            for min_margin in np.round(np.arange(0.01, 0.5, 0.01), 3):
                ev = evaluate(rows, scale, min_score, min_margin)
                intended = ev.get("intended", dict(n=0, right=0, wrong=0))
                bad = sum(ev.get(k, {}).get("right", 0) + ev.get(k, {}).get("wrong", 0)
                          for k in refuse_kinds)
                n_refuse = sum(ev.get(k, {}).get("n", 0) for k in refuse_kinds)
                if intended["wrong"] > 0 or bad > args.max_refusal_miss * n_refuse:
                    continue
                key = (intended["right"], min_score + min_margin)
                if best is None or key > best[0]:
                    best = (key, scale, float(min_score), float(min_margin), ev)
    if best is None:
        print("no point meets the criterion")
        return
    _, scale, s, m, ev = best
    print(json.dumps(dict(scale=scale, contact_min_score=s, contact_min_margin=m, per_kind=ev)))
    # how sensitive: the same scale, thresholds around the chosen point
    for ds in (-0.04, -0.02, 0.0, 0.02, 0.04):
        for dm in (-0.04, -0.02, 0.0, 0.02, 0.04):
            e = evaluate(rows, scale, s + ds, m + dm)
            cells = " ".join(f"{k}:{v['right']}+{v['wrong']}/{v['n']}" for k, v in sorted(e.items()))
            print(f"  score {s + ds:.2f} margin {m + dm:.2f}: {cells}")


if __name__ == "__main__":
    main()
