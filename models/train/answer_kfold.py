#!/usr/bin/env python3
"""Issue 13 groundwork: how well a small head on Google's speech_embedding reads
answers ("yes", "no", "stop"/"cancel", anything else) for speakers it never saw,
by k-fold over Speech Commands speakers.

    pip install --no-deps openwakeword==0.5.1   # only for its two ONNX files
    python3 models/train/answer_kfold.py --data /work/data --folds 5

The two ONNX files (melspectrogram.onnx, embedding_model.onnx) are the same
bytes in the PyPI wheel openwakeword 0.5.1 and in the crate livekit-wakeword
0.1.3 (Apache-2.0); the embedding is Google's speech_embedding (Apache-2.0).
This script only measures; nothing is bundled.

Each clip (1 s) gets 0.3 s of silence on both sides, the int16-scale mel
spectrogram (openWakeWord's convention: x / 10 + 2), 96-d embeddings of 76-frame
windows every 8 frames, and the mean and max over time (192 values). A
multinomial logistic regression (numpy, L2) learns four classes: yes, no,
cancel (Speech Commands "stop"), other (every other word and "unknown").
Folds split the speakers (corpora_index.csv `speaker`), never a speaker's
clips. The "yes" threshold is chosen inside the training folds (3-fold over
their speakers) as the lowest p(yes) with at most 0.3 % of non-yes clips
above it; then the held-out fold is scored. Prints every fold and the mean
and spread. "no" and "stop" count as read right when their class has the
highest probability.
"""
import argparse
import csv
import os
import sys

import numpy as np
import soundfile as sf

LABELS = ["yes", "no", "cancel", "other"]


def models_dir():
    # the package's __init__ imports its training dependencies: find it without running it
    import importlib.util
    spec = importlib.util.find_spec("openwakeword")
    if spec is None:
        sys.exit("pip install --no-deps openwakeword==0.5.1 (for its two ONNX files)")
    return os.path.join(os.path.dirname(spec.origin), "resources", "models")


class Embedder:
    def __init__(self):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        d = models_dir()
        self.mel = ort.InferenceSession(os.path.join(d, "melspectrogram.onnx"), so,
                                        providers=["CPUExecutionProvider"])
        self.emb = ort.InferenceSession(os.path.join(d, "embedding_model.onnx"), so,
                                        providers=["CPUExecutionProvider"])

    def __call__(self, pcm_int16):
        x = pcm_int16.astype(np.float32)[None, :]
        spec = np.squeeze(self.mel.run(None, {self.mel.get_inputs()[0].name: x})[0]) / 10 + 2
        wins = [spec[s:s + 76] for s in range(0, spec.shape[0] - 75, 8)]
        batch = np.stack(wins)[:, :, :, None].astype(np.float32)
        e = self.emb.run(None, {self.emb.get_inputs()[0].name: batch})[0].reshape(len(wins), 96)
        return np.concatenate([e.mean(axis=0), e.max(axis=0)])


def label_of(row):
    lab = row["label"]
    if lab == "yes":
        return 0
    if lab == "no":
        return 1
    if lab == "stop":
        return 2
    return 3


def train(x, y, l2=1e-3, steps=600, lr=0.5):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = np.zeros((z.shape[1], 4))
    b = np.zeros(4)
    onehot = np.eye(4)[y]
    # class weights: every class counts as much as the others
    cw = len(y) / (4 * np.bincount(y, minlength=4).clip(1))
    sw = cw[y][:, None]
    for _ in range(steps):
        logits = z @ w + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * sw / len(y)
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * g.sum(0)
    return mu, sd, w, b


def predict(model, x):
    mu, sd, w, b = model
    logits = ((x - mu) / sd) @ w + b
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def yes_threshold(x, y, spk, max_false=0.003, folds=3, seed=0):
    """Lowest p(yes) with <= max_false of non-yes above it, from inner speaker folds."""
    uniq = np.unique(spk)
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(uniq, rng.permutation(len(uniq)) % folds))
    f = np.array([fold_of[s] for s in spk])
    scores = np.zeros(len(y))
    for k in range(folds):
        m = train(x[f != k], y[f != k])
        scores[f == k] = predict(m, x[f == k])[:, 0]
    neg = np.sort(scores[y != 0])
    return float(neg[int(np.ceil((1 - max_false) * len(neg))) - 1]) if len(neg) else 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rows = [r for r in csv.DictReader(open(os.path.join(args.data, "corpora_index.csv")))
            if r["source"] == "commands" and r["label"] != "silence" and r["speaker"]]
    emb = Embedder()
    pad = np.zeros(4800, dtype=np.int16)
    feats, ys, spks, words = [], [], [], []
    for i, r in enumerate(rows):
        x, sr = sf.read(os.path.join(args.data, r["path"]), dtype="int16")
        feats.append(emb(np.concatenate([pad, x, pad])))
        ys.append(label_of(r))
        spks.append(r["speaker"])
        words.append(r["word"] or r["label"])
        if i % 500 == 0:
            print(f"  embedded {i}/{len(rows)}", file=sys.stderr, flush=True)
    x, y, spk, words = np.array(feats), np.array(ys), np.array(spks), np.array(words)
    uniq = np.unique(spk)
    rng = np.random.default_rng(args.seed)
    fold_of = dict(zip(uniq, rng.permutation(len(uniq)) % args.folds))
    f = np.array([fold_of[s] for s in spk])
    print(f"{len(y)} clips, {len(uniq)} speakers, {args.folds} speaker folds; "
          f"yes {np.sum(y == 0)}, no {np.sum(y == 1)}, stop {np.sum(y == 2)}, other {np.sum(y == 3)}")
    res = []
    for k in range(args.folds):
        tr, te = f != k, f == k
        thr = yes_threshold(x[tr], y[tr], spk[tr])
        m = train(x[tr], y[tr])
        p = predict(m, x[te])
        yt = y[te]
        yes_ok = np.mean(p[yt == 0, 0] >= thr)
        no_ok = np.mean(p[yt == 1].argmax(1) == 1)
        stop_ok = np.mean(p[yt == 2].argmax(1) == 2)
        false_yes = np.mean(p[yt != 0, 0] >= thr)
        w = words[te]
        # per word, over words with at least 10 clips in the fold
        worst = max(((np.mean(p[(yt != 0) & (w == word), 0] >= thr), word)
                     for word in np.unique(w[yt != 0]) if np.sum((yt != 0) & (w == word)) >= 10),
                    default=(0, ""))
        res.append((yes_ok, no_ok, stop_ok, false_yes, worst[0]))
        print(f"fold {k}: {np.sum(te)} clips; yes accepted {yes_ok:.1%} (threshold {thr:.3f}), "
              f"no read as no {no_ok:.1%}, stop read as cancel {stop_ok:.1%}, "
              f"non-yes read as yes {false_yes:.2%} (worst word {worst[1]} {worst[0]:.1%})")
    r = np.array(res)
    names = ["yes accepted", "no read as no", "stop read as cancel", "non-yes read as yes",
             "worst single word (>= 10 clips) read as yes"]
    for j, n in enumerate(names):
        print(f"{n}: mean {r[:, j].mean():.2%}, min {r[:, j].min():.2%}, max {r[:, j].max():.2%}")


if __name__ == "__main__":
    main()
