#!/usr/bin/env python3
"""Regenerate testdata/golden/answer_golden.json, the golden reference of the
second-stage answer scorer (`src/answer.rs`, tested by tests/answer_scorer.rs).

    pip install numpy soundfile onnxruntime
    python3 testdata/make_answer_golden.py

The features come from models/train/answer_features.py (the specification
`src/answer.rs` mirrors), run with onnxruntime; the probabilities from the
CURRENT models/answer_head.onnx, also run with onnxruntime.

When models/answer_head.onnx is replaced (retrained), rerun this script:
the features do not change (they depend only on the speech_embedding
models), but the probabilities do, and tests/answer_scorer.rs compares them.

Clips (kept short; the JSON stores only a digest of each feature vector:
its first 8 values and the sum of all 192):
- three recordings from testdata/: the answer window of a "yes" flow (a
  slice of testdata/flows/m/yes.wav), and the wake words computer and jarvis;
- "burst": deterministic synthetic noise, integer-only xorshift64 so that
  the Rust test regenerates it bit for bit (`burst()` below and in the
  test): quiet noise with a loud 2.5 s burst, long enough that the cut is
  truncated to MAX_CUT samples and all N_WIN windows are pooled;
- "silent": all zeros, which has no active frame (features null).
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import answer_features as af  # noqa: E402

OUT = os.path.join(HERE, "golden", "answer_golden.json")
HEAD = os.path.join(ROOT, "models", "answer_head.onnx")

# Synthetic burst parameters (the Rust test reads them from the JSON).
BURST = {"seed": 20261202, "len": 72000, "start": 16000, "end": 56000, "quiet": 8, "loud": 6000}
MASK = (1 << 64) - 1


def burst(seed, len, start, end, quiet, loud):
    """Uniform integer noise: amplitude `loud` in [start, end), `quiet` elsewhere."""
    s = seed
    out = np.zeros(len, dtype=np.int16)
    for i in range(len):
        s ^= (s << 13) & MASK
        s ^= s >> 7
        s ^= (s << 17) & MASK
        u = (s >> 48) - 32768  # in [-32768, 32767]
        amp = loud if start <= i < end else quiet
        out[i] = int(u * amp / 32768) if u >= 0 else -int(-u * amp / 32768)
    return out


def read(path, start=0, end=None):
    data, sr = sf.read(os.path.join(ROOT, path), dtype="int16")
    assert sr == af.SR and data.ndim == 1, path
    return data[start:end]


def main():
    emb = af.Embedder()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    head = ort.InferenceSession(HEAD, so, providers=["CPUExecutionProvider"])
    clips = [
        ({"name": "yes_answer", "file": "testdata/flows/m/yes.wav", "start": 144000},
         read("testdata/flows/m/yes.wav", 144000)),
        ({"name": "computer", "file": "testdata/clips/computer.wav", "start": 0},
         read("testdata/clips/computer.wav")),
        ({"name": "jarvis", "file": "testdata/clips/jarvis.wav", "start": 0},
         read("testdata/clips/jarvis.wav")),
        ({"name": "burst", "burst": BURST}, burst(**BURST)),
        ({"name": "silent", "zeros": 16000}, np.zeros(16000, dtype=np.int16)),
    ]
    out = []
    for entry, pcm in clips:
        c = af.cut(pcm)
        f = emb.features(pcm)
        if f is None:
            entry.update(cut_len=None, n_windows=None, features_head=None,
                         features_sum=None, probs=None)
        else:
            n = af.n_windows(len(c))
            p = head.run(None, {"features": f[None, :]})[0][0]
            entry.update(
                cut_len=int(len(c)),
                n_windows=n,
                features_head=[round(float(v), 6) for v in f[:8]],
                features_sum=round(float(f.astype(np.float64).sum()), 5),
                probs=[round(float(v), 7) for v in p],
            )
        out.append(entry)
        print(entry["name"], entry["cut_len"], entry["n_windows"], entry["probs"])
    with open(OUT, "w") as fh:
        json.dump({"labels": af.LABELS, "clips": out}, fh, indent=1)
        fh.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
