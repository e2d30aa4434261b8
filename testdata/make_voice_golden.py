#!/usr/bin/env python3
"""Regenerate testdata/golden/voice_golden.json, the golden reference of the
voice check (`src/voice.rs`, tested by tests/voice.rs).

    pip install numpy soundfile onnxruntime
    python3 testdata/make_voice_golden.py

The features come from models/train/voice_head.py (VoiceEmbedder, the
specification `src/voice.rs` mirrors; its `mel+pitch` columns), run with
onnxruntime; the voice vectors from the CURRENT models/voice_head.onnx.
Rerun when models/voice_head.onnx is retrained (the features stay, the
vectors change).

Clips:
- "request": the whole "yes" flow of testdata/flows/m/yes.wav, whose speech
  is longer than two pieces (3.8 s): the region is truncated;
- "answer_m", "answer_f": the answer window of the m and f "yes" flows;
- "computer": a short wake word;
- "silent": zeros (no voice).
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import voice_head as vh  # noqa: E402
from make_answer_golden import read  # noqa: E402  (same folder: a bundled WAV from a sample on)

OUT = os.path.join(HERE, "golden", "voice_golden.json")
HEAD = os.path.join(ROOT, "models", "voice_head.onnx")
MEL = vh.FEATURE_SETS["mel+pitch"]


def main():
    emb = vh.VoiceEmbedder()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    head = ort.InferenceSession(HEAD, so, providers=["CPUExecutionProvider"])
    clips = [
        ("request", "testdata/flows/m/yes.wav", 0),
        ("answer_m", "testdata/flows/m/yes.wav", 144000),
        ("answer_f", "testdata/flows/f/yes.wav", 144000),
        ("computer", "testdata/clips/computer.wav", 0),
    ]
    out, vectors = [], {}
    for name, path, start in clips + [("silent", None, 16000)]:
        pcm = read(path, start) if path else np.zeros(start, np.int16)
        f = emb.features(pcm.astype(np.float64))
        entry = {"name": name, "file": path, "start": start if path else None,
                 "zeros": None if path else start}
        if f is None:
            entry.update(features=None, voice=None)
        else:
            f = f[MEL]
            v = head.run(None, {"features": f[None, :]})[0][0].astype(np.float64)
            v /= np.linalg.norm(v)
            vectors[name] = v
            entry.update(features=[round(float(x), 6) for x in f],
                         voice=[round(float(x), 6) for x in v])
        out.append(entry)
    sims = {f"{a}|{b}": round(float(vectors[a] @ vectors[b]), 6)
            for a in vectors for b in vectors if a < b}
    with open(OUT, "w") as fh:
        json.dump({"clips": out, "similarities": sims}, fh, indent=1)
        fh.write("\n")
    print(json.dumps(sims, indent=1))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
