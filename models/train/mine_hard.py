#!/usr/bin/env python3
"""Hard-negative mining: the training split's background material, run
through a trained model at a low threshold; every detection there is a
false alarm, and the audio just before it becomes a training negative.

    cargo build --release --example detect
    python3 models/train/mine_hard.py --data /work/data --model /work/data/model_try4.onnx \
        --out /work/data/hard --threshold 0.3

Only the *train* split of make_dataset.py is mined (background speech of
s2i/fsdd, the Speech Commands non-answer words, the synthetic confusable
words and sentences), so validation and test material stay unseen. The
material is concatenated (0.3 s pauses, seeded order) into one stream,
once clean and once mixed with real noise at --snr dB; each detection
event in either stream yields a window of --window s ending 0.3 s after
the event's first threshold crossing (the network fires at a word's end).

Writes OUT/<n>.wav windows and OUT/manifest.csv (path, label=negative,
fired_label, score, stream), read by make_dataset.py --hard.
"""
import argparse
import csv
import json
import os
import subprocess

import numpy as np
import soundfile as sf

from make_background import mix_noise
from make_dataset import SR, load_items, read_wav


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="/work/data/hard")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--window", type=float, default=1.8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--detect", default="target/release/examples/detect")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    items, beds, _ = load_items(args.data)
    files = [p for p, s in beds["speech"] if s == "train"]
    files += [it["path"] for it in items if it["split"] == "train" and it["label"] == "negative"]
    files = [files[i] for i in rng.permutation(len(files))]
    gap = np.zeros(int(0.3 * SR), np.float32)
    parts = []
    for p in files:
        x = read_wav(p)
        if len(x):
            peak = np.abs(x).max()
            parts += [x / max(peak, 1e-4) * 10 ** rng.uniform(-1.5, -0.3), gap]
    clean = np.concatenate(parts)

    noise = [read_wav(os.path.join(args.data, "corpora", "noise", f))
             for f in sorted(os.listdir(os.path.join(args.data, "corpora", "noise")))]
    noise = [n for n in noise if len(n) > SR]
    noisy = mix_noise(clean, noise, rng, args.snr)
    print(f"train background: {len(files)} files, {len(clean) / SR / 3600:.2f} h", flush=True)

    rows = []
    for name, x in [("clean", clean), ("noisy", noisy)]:
        wav = os.path.join(args.out, f"stream_{name}.wav")
        sf.write(wav, x, SR, subtype="PCM_16")
        out = subprocess.run([args.detect, "--json", "--model", args.model, "--threshold",
                              str(args.threshold), wav], capture_output=True, text=True, check=True).stdout
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        for ev in events:
            end = int((ev["start"] + 0.3) * SR)
            start = max(0, end - int(args.window * SR))
            seg = x[start:min(end, len(x))]
            path = os.path.join(args.out, f"{name}_{len(rows):05d}.wav")
            sf.write(path, seg, SR, subtype="PCM_16")
            rows.append([path, "negative", ev["label"], ev["score"], name])
        counts = {}
        for ev in events:
            counts[ev["label"]] = counts.get(ev["label"], 0) + 1
        print(f"{name}: {len(events)} events {dict(sorted(counts.items()))}", flush=True)
        os.remove(wav)
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "fired_label", "score", "stream"])
        w.writerows(rows)
    print(f"{len(rows)} hard negatives -> {args.out}/manifest.csv")


if __name__ == "__main__":
    main()
