#!/usr/bin/env python3
"""Link the held-out (test or validation split) recordings into folder-per-label corpora
for `examples/evaluate.rs` and `examples/confirm_eval.rs`, and concatenate
the held-out background into one long WAV.

    python3 models/train/make_heldout.py --data /work/data --out /work/data/heldout
    python3 models/train/make_heldout.py --split val --out /work/data/valset

Uses make_dataset.py's split, so nothing linked here was trained on
(--split test, the default, is never used for any choice either; --split
val is where thresholds are chosen):
- OUT/keywords/<wake word>/: the wake-word benchmark clips of the split
  (split by file: the benchmark has no speaker ids);
- OUT/commands/<word>/: Speech Commands clips of the split's speakers;
- OUT/speech/{s2i,fsdd}/: background speech of the split;
- OUT/background.wav: OUT/speech plus the non-answer command words, back to back.
"""
import argparse
import os
import subprocess

from make_dataset import load_items, split_of_group


def link(src, dst_dir):
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, os.path.basename(src))
    if not os.path.exists(dst):
        os.symlink(os.path.abspath(src), dst)
    return dst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--out", default="/work/data/heldout")
    ap.add_argument("--split", choices=["test", "val"], default="test")
    args = ap.parse_args()
    items, beds, _ = load_items(args.data)
    background = []
    for it in items:
        if it["split"] != args.split or it["source"] not in ("keywords", "commands"):
            continue
        folder = os.path.basename(os.path.dirname(it["path"]))
        link(it["path"], os.path.join(args.out, it["source"], folder))
        if it["source"] == "commands" and it["label"] == "negative":
            background.append(it["path"])
    # Speech Commands folders that are neither answers nor negatives in training
    import csv
    for r in csv.DictReader(open(os.path.join(args.data, "corpora_index.csv"))):
        if r["source"] == "commands" and r["label"] == "silence":
            split, _ = split_of_group(r["group"], r["path"], "commands")
            if split == args.split:
                link(os.path.join(args.data, r["path"]), os.path.join(args.out, "commands", "silence"))
    speech = []
    for path, split in beds["speech"]:
        if split == args.split:
            src = "s2i" if "/s2i/" in path else "fsdd"
            speech.append(link(path, os.path.join(args.out, "speech", src)))
    out = os.path.join(args.out, "background.wav")
    subprocess.run(["sox", *sorted(speech), *sorted(background), out], check=True)
    secs = float(subprocess.run(["soxi", "-D", out], capture_output=True, text=True).stdout)
    print(f"{out}: {secs / 3600:.2f} h")


if __name__ == "__main__":
    main()
