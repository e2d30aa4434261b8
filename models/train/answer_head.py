#!/usr/bin/env python3
"""The second-stage answer scorer (issue 13): k-fold measurement and training.

    nice -n 5 python3 models/train/answer_head.py --data /work/data      # k-fold, then export
    python3 models/train/answer_head.py --no-kfold \
        --exclude-speakers-of /work/data/testset --exclude-speakers-of /work/data/valset \
        --out /work/data/answer_head_flowcheck.onnx   # a head that never heard those speakers

First run: about 25 min on 2 cores (TTS renders are cached in DATA/answer_tts,
features in DATA/answer_feats_*.npz); then 4-5 min. Needs numpy, soundfile,
onnxruntime, onnx and the TTS engines of setup_env.sh.

What it learns: four networks of one ReLU layer (--hidden 128, --ensemble 4,
their logits averaged, exported as one network) over (yes, no, cancel,
other) on the 192 features of `answer_features.py` (Google's
speech_embedding, mean and max over the answer). What it is scored by: the
gate's own rule (`GateConfig::answer_verdict`: the label's probability
>= 0.8 and 0.3 above the other two answers), the rule the shipped gate applies.

Clips (one answer recording each):
  * every Speech Commands clip of the corpora (real speakers): yes, no,
    stop (read as cancel), and every other word, "unknown" and "silence" as other;
  * text-to-speech answers in every voice of synth.py (espeak-ng, flite,
    festival, piper): "yes", "yes please", "no", "no thanks", "cancel",
    "stop", and as other the words the issue names ("right", "sure",
    "left", "guess", "yesterday", "less", laughter as "ha ha ha") and more
    ("okay", "uh huh", "go ahead", "correct", ...; near-homophones of yes
    in EXTRA); "yeah", "yep", "nope" are measured, never trained on;
  * background speech: 0.4-1.8 s segments of the real speech corpora (s2i, fsdd);
  * coughs (synthetic: decaying band-passed noise bursts) and noise segments;
  * an answer followed or preceded by a cough 0.1-0.3 s apart (the segmenter
    keeps them in one utterance): labelled as the answer.

Every clip is featurized three times: clean; with noise or four-talker
babble at 10-20 dB SNR (the issue's measurement condition); and a harder
training-only copy (0-10 dB, a room response on half). The Speech Commands
clips get four more training-only copies at speeds 0.85-1.15 (tempo and
pitch: more voices; half of them in noise). Noise files, babble sources and
room responses are dealt into the folds like the speakers, so a held-out
fold is scored with noise no training fold mixed in.

Folds split groups: a Speech Commands speaker, a TTS voice, a background
file. For each held-out fold the yes/no/cancel logit offsets are chosen on
the training folds alone (inner 3-fold over their groups, clean and noisy
copies, EXTRA left out): the yes offset as the most accepting one with at
most --max-false-yes (0.3 %) of the non-yes clips read as yes; the no and
cancel offsets with at most 1 % of the other clips read as them. Prints
every fold and the mean and spread, clean and noisy.

With export (default), the head is trained on every clip (or without the
speakers of --exclude-speakers-of), offsets chosen the same way on all of
them, and written with its arguments in the ONNX metadata.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
import tempfile

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import answer_features as af  # noqa: E402

SR = 16000
YES, NO, CANCEL, OTHER = range(4)

# (text, label, repeats per voice)
TTS_TEXTS = [
    ("yes", YES, 3), ("yes please", YES, 1), ("no", NO, 2), ("no thanks", NO, 1),
    ("cancel", CANCEL, 2), ("stop", CANCEL, 1),
    ("right", OTHER, 1), ("sure", OTHER, 1), ("left", OTHER, 1), ("guess", OTHER, 1),
    ("yesterday", OTHER, 1), ("less", OTHER, 1), ("yet", OTHER, 1), ("yell", OTHER, 1),
    ("bless", OTHER, 1), ("chess", OTHER, 1), ("mess", OTHER, 1), ("dress", OTHER, 1),
    ("jess", OTHER, 1), ("okay", OTHER, 1), ("maybe", OTHER, 1), ("uh huh", OTHER, 1),
    ("go ahead", OTHER, 1), ("correct", OTHER, 1), ("send it", OTHER, 1),
    ("ha ha ha", OTHER, 1), ("hello", OTHER, 1), ("what", OTHER, 1), ("sorry", OTHER, 1),
    ("wait", OTHER, 1), ("nice", OTHER, 1), ("noted", OTHER, 1), ("nose", OTHER, 1),
    ("knock", OTHER, 1), ("candle", OTHER, 1), ("spot", OTHER, 1),
]
# Near-homophones of "yes" trained on as "other" but not used to choose the
# offsets (they are not among the words the issue names, and a synthetic
# "yet" or "jess" is barely distinguishable from a synthetic "yes"):
# measured and reported as "extra".
EXTRA = {"yet", "yell", "bless", "chess", "mess", "dress", "jess", "nose", "knock", "candle",
         "spot", "noted", "nice"}
NAMED = ["right", "sure", "left", "guess", "yesterday", "less", "ha ha ha"]
# measured, never trained on: the label they would have
NOT_TRAINED = [("yeah", YES, 1), ("yep", YES, 1), ("nope", NO, 1)]
# speed perturbation of the real Speech Commands clips (training only)
SPEEDS = [0.85, 0.92, 1.08, 1.15]


def read16(path):
    x, sr = sf.read(path, dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != SR:
        raise SystemExit(f"{path}: {sr} Hz")
    return x * 32768.0


def group_fold(group, folds, seed):
    h = int.from_bytes(__import__("hashlib").sha256(f"{seed}|{group}".encode()).digest()[:8], "little")
    return h % folds


def bg_group(r):
    """Background speech is dealt into folds by speaker where known, else by file."""
    return "bg:" + (r["speaker"] or r["group"] or r["path"])


def cough(rng):
    """A synthetic cough: 1-3 decaying bursts of band-passed noise."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.uniform(0.12, 0.3) * SR)
        t = np.arange(n) / SR
        env = (1 - np.exp(-t / 0.005)) * np.exp(-t / rng.uniform(0.03, 0.1))
        x = rng.standard_normal(n)
        spec = np.fft.rfft(x)
        f = np.fft.rfftfreq(n, 1 / SR)
        for c in rng.uniform(300, 2500, size=2):
            spec *= 0.3 + np.exp(-((f - c) / rng.uniform(150, 600)) ** 2)
        x = np.fft.irfft(spec, n) * env
        out += [x / (np.abs(x).max() + 1e-9), np.zeros(int(rng.uniform(0.05, 0.2) * SR))]
    x = np.concatenate(out)
    return x * 32768 * 10 ** (rng.uniform(-20, -3) / 20)


def level_db(x):
    return 20 * np.log10(np.sqrt(np.mean(x ** 2)) / 32768 + 1e-12)


def gather(args, rng):
    """Every clip: (pcm, label, word, group, kind)."""
    rows = list(csv.DictReader(open(os.path.join(args.data, "corpora_index.csv"))))
    clips = []
    for r in rows:
        if r["source"] != "commands":
            continue
        lab = {"yes": YES, "no": NO, "stop": CANCEL}.get(r["label"], OTHER)
        word = r["label"] if r["label"] in ("unknown", "silence") else (r["word"] or r["label"])
        if r["label"] == "unknown":
            word = "unknown:" + (r["word"] or "?")
        clips.append((read16(os.path.join(args.data, r["path"])), lab, word,
                      r["speaker"] or r["group"], "sc"))
    print(f"  {len(clips)} Speech Commands clips", file=sys.stderr)

    # background speech, 0.4-1.8 s segments
    speech = [r for r in rows if r["source"] in ("s2i", "fsdd")]
    pick = rng.choice(len(speech), size=min(args.background, len(speech)), replace=False)
    for i in pick:
        r = speech[i]
        x = read16(os.path.join(args.data, r["path"]))
        n = int(rng.uniform(0.4, 1.8) * SR)
        if len(x) <= n:
            continue
        a = int(rng.integers(0, len(x) - n))
        clips.append((x[a:a + n], OTHER, "background speech", bg_group(r), "background"))

    # noise segments and coughs
    for path in sorted(glob.glob(os.path.join(args.data, "corpora/noise/*.wav"))):
        x = read16(path)
        for _ in range(12):
            n = int(rng.uniform(0.5, 1.5) * SR)
            a = int(rng.integers(0, max(1, len(x) - n)))
            seg = x[a:a + n]
            seg = seg * 10 ** (rng.uniform(-15, 5) / 20)
            clips.append((seg, OTHER, "noise", "noise:" + os.path.basename(path), "noise"))
    for i in range(args.coughs):
        clips.append((cough(rng), OTHER, "cough", f"cough:{i % 40}", "cough"))

    # an answer next to a cough, in one utterance
    sc_ans = [c for c in clips if c[4] == "sc" and c[1] in (YES, NO)]
    for i in rng.choice(len(sc_ans), size=min(args.composites, len(sc_ans)), replace=False):
        pcm, lab, word, group, _ = sc_ans[i]
        c = cough(rng) * 10 ** ((level_db(pcm) - level_db(cough(rng))) / 20) * 0.5
        gap = np.zeros(int(rng.uniform(0.1, 0.3) * SR))
        x = np.concatenate([pcm, gap, c] if rng.random() < 0.7 else [c, gap, pcm])
        clips.append((x, lab, word + "+cough", group, "composite"))

    clips += tts_clips(args, rng)
    return clips


def tts_clips(args, rng):
    from make_name_flows import Renderer
    from synth import build_slots, seed_of
    cache = os.path.join(args.data, "answer_tts")
    slots = build_slots(["espeak", "flite", "festival", "piper"], piper_slots=2)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        ren = Renderer(tmp)
        for slot in slots:
            for text, lab, reps in TTS_TEXTS + NOT_TRAINED:
                for rep in range(reps):
                    path = os.path.join(cache, slot.key.replace(":", "_").replace("+", "_"),
                                        f"{text.replace(' ', '_')}_{rep}.wav")
                    if os.path.exists(path):
                        x = read16(path)
                    else:
                        r = np.random.default_rng(seed_of(args.seed, "tts", slot.key, text, rep))
                        x = ren.say(slot, text, r, rep, reps)
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        sf.write(path, np.clip(np.round(x), -32768, 32767).astype("<i2"), SR)
                    # a level a person at 1-3 m might give: -40 ... -15 dBFS
                    x = x * 10 ** ((rng.uniform(-40, -15) - level_db(x)) / 20)
                    lead = np.zeros(int(rng.uniform(0.05, 0.4) * SR))
                    trail = np.zeros(int(rng.uniform(0.05, 0.4) * SR))
                    kind = "tts-untrained" if (text, lab, reps) in NOT_TRAINED else "tts"
                    out.append((np.concatenate([lead, x, trail]), lab, text, "tts:" + slot.key, kind))
            print(f"  tts {slot.key}: {len(out)} clips", file=sys.stderr, flush=True)
    return out


class Mixer:
    """Noise, babble and rooms, dealt into folds like the clips."""

    def __init__(self, args):
        self.folds = args.folds
        self.seed = args.seed
        self.noise = [[] for _ in range(args.folds)]
        for p in sorted(glob.glob(os.path.join(args.data, "corpora/noise/*.wav"))):
            self.noise[group_fold("noise:" + os.path.basename(p), args.folds, args.seed)].append(read16(p))
        self.talk = [[] for _ in range(args.folds)]
        rows = list(csv.DictReader(open(os.path.join(args.data, "corpora_index.csv"))))
        for r in sorted(rows, key=lambda r: r["source"] != "s2i"):  # long orders first
            k = group_fold(bg_group(r), args.folds, args.seed)
            if r["source"] in ("s2i", "fsdd") and len(self.talk[k]) < 150:
                self.talk[k].append(read16(os.path.join(args.data, r["path"])))
        self.rir = [[] for _ in range(args.folds)]
        for i, p in enumerate(sorted(glob.glob(os.path.join(args.data, "corpora/rir/*.wav")))):
            h = read16(p) / 32768
            h = h[np.argmax(np.abs(h)):][: SR]
            self.rir[i % args.folds].append(h / (np.sqrt(np.sum(h ** 2)) + 1e-9))

    def _pool(self, pools, fold):
        # a fold without its own file of a kind borrows the next fold's
        for k in range(self.folds):
            p = pools[(fold + k) % self.folds]
            if p:
                return p
        return []

    def background(self, rng, n, fold):
        if rng.random() < 0.5:
            src = self._pool(self.noise, fold)
            x = src[int(rng.integers(len(src)))]
            reps = int(np.ceil(n / len(x))) + 1
            x = np.tile(x, reps)
            a = int(rng.integers(0, len(x) - n))
            return x[a:a + n]
        src = self._pool(self.talk, fold)
        out = np.zeros(n)
        for _ in range(4):
            x = src[int(rng.integers(len(src)))]
            x = np.tile(x, int(np.ceil(n / len(x))) + 1)
            a = int(rng.integers(0, len(x) - n))
            seg = x[a:a + n]
            out += seg / (np.sqrt(np.mean(seg ** 2)) + 1e-9)
        return out

    def mix(self, rng, x, fold, snr_lo, snr_hi, rir_p):
        if rng.random() < rir_p:
            h = self._pool(self.rir, fold)
            h = h[int(rng.integers(len(h)))]
            y = np.convolve(x, h)[: len(x)]
            x = y * (np.sqrt(np.mean(x ** 2)) / (np.sqrt(np.mean(y ** 2)) + 1e-9))
        c = af.cut(np.clip(x, -32768, 32767))
        sig = np.sqrt(np.mean(c ** 2)) if c is not None else np.sqrt(np.mean(x ** 2))
        b = self.background(rng, len(x), fold)
        b = b / (np.sqrt(np.mean(b ** 2)) + 1e-9) * sig * 10 ** (-rng.uniform(snr_lo, snr_hi) / 20)
        return np.clip(x + b, -32768, 32767)


def featurize(args):
    cache = os.path.join(args.data, f"answer_feats_s{args.seed}_f{args.folds}.npz")
    if os.path.exists(cache) and not args.refeaturize:
        z = np.load(cache, allow_pickle=True)
        return {k: z[k] for k in z.files}
    rng = np.random.default_rng(args.seed)
    clips = gather(args, rng)
    mixer = Mixer(args)
    emb = af.Embedder()
    feats = np.zeros((len(clips), 3, 192), np.float32)
    has = np.zeros((len(clips), 3), bool)
    for i, (pcm, lab, word, group, kind) in enumerate(clips):
        fold = group_fold(group, args.folds, args.seed)
        variants = [np.clip(pcm, -32768, 32767),
                    mixer.mix(rng, pcm, fold, 10, 20, 0.0),
                    mixer.mix(rng, pcm, fold, 0, 10, 0.5)]
        for v, x in enumerate(variants):
            f = emb.features(np.round(x))
            if f is not None:
                feats[i, v] = f
                has[i, v] = True
        if i % 500 == 0:
            print(f"  featurized {i}/{len(clips)}", file=sys.stderr, flush=True)
    out = dict(feats=feats, has=has,
               label=np.array([c[1] for c in clips]), word=np.array([c[2] for c in clips]),
               group=np.array([c[3] for c in clips]), kind=np.array([c[4] for c in clips]))
    np.savez(cache, **out)
    return out


def speed(x, factor):
    """Speed perturbation by linear resampling: tempo and pitch by `factor`
    (a voice a little higher and faster, or lower and slower)."""
    n = int(len(x) / factor)
    return np.interp(np.arange(n) * factor, np.arange(len(x)), x)


def featurize_speed(args, data):
    """Training-only variants of the Speech Commands clips at other speeds
    (SPEEDS), half of them with noise at 5-20 dB: more real voices."""
    cache = os.path.join(args.data, f"answer_feats_speed_s{args.seed}_f{args.folds}.npz")
    if os.path.exists(cache) and not args.refeaturize:
        z = np.load(cache)
        return z["feats"], z["has"]
    rows = [r for r in csv.DictReader(open(os.path.join(args.data, "corpora_index.csv")))
            if r["source"] == "commands"]
    n = len(data["label"])
    assert all(k == "sc" for k in data["kind"][: len(rows)])
    rng = np.random.default_rng(args.seed + 100)
    mixer = Mixer(args)
    emb = af.Embedder()
    feats = np.zeros((n, len(SPEEDS), 192), np.float32)
    has = np.zeros((n, len(SPEEDS)), bool)
    for i, r in enumerate(rows):
        x = read16(os.path.join(args.data, r["path"]))
        fold = group_fold(r["speaker"] or r["group"], args.folds, args.seed)
        for v, f in enumerate(SPEEDS):
            xs = speed(x, f)
            if rng.random() < 0.5:
                xs = mixer.mix(rng, xs, fold, 5, 20, 0.3)
            e = emb.features(np.round(np.clip(xs, -32768, 32767)))
            if e is not None:
                feats[i, v] = e
                has[i, v] = True
        if i % 500 == 0:
            print(f"  speed variants {i}/{len(rows)}", file=sys.stderr, flush=True)
    np.savez(cache, feats=feats, has=has)
    return feats, has


def class_weights(y, neg_weight):
    cw = len(y) / (4 * np.bincount(y, minlength=4).clip(1))
    cw[OTHER] *= neg_weight
    sw = cw[y]
    return sw / sw.mean()


def train(x, y, l2, steps=800, lr=0.5, neg_weight=1.0, hidden=0, seed=0, ensemble=1):
    """A linear layer (hidden=0) or one ReLU layer of `hidden` units, softmax
    cross-entropy with class weights; standardisation folded into the first layer.
    With ensemble > 1 and a hidden layer, that many networks (seeds) whose
    logits are averaged: one network of ensemble * hidden units."""
    if ensemble > 1 and hidden > 0:
        nets = [train(x, y, l2, steps, lr, neg_weight, hidden, seed + k) for k in range(ensemble)]
        w1 = np.concatenate([n[0][0] for n in nets], axis=1)
        b1 = np.concatenate([n[0][1] for n in nets])
        w2 = np.concatenate([n[1][0] for n in nets], axis=0) / ensemble
        b2 = np.mean([n[1][1] for n in nets], axis=0)
        return [(w1, b1), (w2, b2)]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    onehot = np.eye(4)[y]
    sw = class_weights(y, neg_weight)[:, None]
    if hidden == 0:
        w = np.zeros((z.shape[1], 4))
        b = np.zeros(4)
        for _ in range(steps):
            p = af.softmax(z @ w + b)
            g = (p - onehot) * sw / len(y)
            w -= lr * (z.T @ g + l2 * w)
            b -= lr * g.sum(0)
        return [(w / sd[:, None], b - (mu / sd) @ w)]
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((z.shape[1], hidden)) * np.sqrt(2 / z.shape[1]), np.zeros(hidden),
              rng.standard_normal((hidden, 4)) * np.sqrt(1 / hidden), np.zeros(4)]
    m = [np.zeros_like(q) for q in params]
    v = [np.zeros_like(q) for q in params]
    batch, t = 256, 0
    for epoch in range(steps // 20):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            w1, b1, w2, b2 = params
            h = np.maximum(z[idx] @ w1 + b1, 0)
            p = af.softmax(h @ w2 + b2)
            g2 = (p - onehot[idx]) * sw[idx] / len(idx)
            gh = (g2 @ w2.T) * (h > 0)
            grads = [z[idx].T @ gh + l2 * w1, gh.sum(0), h.T @ g2 + l2 * w2, g2.sum(0)]
            t += 1
            for j, gq in enumerate(grads):
                m[j] = 0.9 * m[j] + 0.1 * gq
                v[j] = 0.999 * v[j] + 0.001 * gq ** 2
                params[j] -= 1e-3 * (m[j] / (1 - 0.9 ** t)) / (np.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8)
    w1, b1, w2, b2 = params
    return [(w1 / sd[:, None], b1 - (mu / sd) @ w1), (w2, b2)]


def logits(model, x):
    for i, (w, b) in enumerate(model):
        x = x @ w + b
        if i + 1 < len(model):
            x = np.maximum(x, 0)
    return x


def verdicts(lg, off, th=0.8, margin=0.3):
    """The gate's rule on softmax(logits + offsets): 0 yes, 1 no, 2 cancel, 3 unclear."""
    p = af.softmax(lg + np.concatenate([off, [0.0]]))
    out = np.full(len(p), 3)
    for k in (2, 1, 0):  # yes wins ties of the rule, as in answer_verdict's order
        others = [j for j in range(3) if j != k]
        ok = (p[:, k] >= th) & (p[:, k] - p[:, others].max(1) >= margin)
        out[ok] = k
    return out


def choose_offsets(lg, y, max_false_yes):
    grid = np.arange(-4.0, 6.01, 0.1)
    off = np.zeros(3)
    for k, limit in ((NO, 0.01), (CANCEL, 0.01), (YES, max_false_yes)):
        best = grid[0]
        for d in grid:
            o = off.copy()
            o[k] = d
            v = verdicts(lg, o)
            if np.mean(v[y != k] == k) <= limit:
                best = d
        off[k] = best
    return off


def rows_of(data, sel, variants, trained_only=True):
    """Feature rows of the selected clips in the given variants."""
    xs, ys, idx = [], [], []
    for v in variants:
        m = sel & data["has"][:, v]
        if trained_only:
            m &= data["kind"] != "tts-untrained"
        xs.append(data["feats"][m, v])
        ys.append(data["label"][m])
        idx.append(np.flatnonzero(m))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(idx)


def fit(data, sel, args):
    """Head on the selected clips, offsets from an inner 3-fold over their groups."""
    every = tuple(range(data["feats"].shape[1]))  # clean, noisy, hard, speed copies
    x, y, _ = rows_of(data, sel, every)
    model = train(x, y, args.l2, neg_weight=args.neg_weight, hidden=args.hidden,
                  ensemble=args.ensemble)
    inner = np.array([group_fold(g, 3, args.seed + 1) for g in data["group"]])
    lgs, ys = [], []
    calib = ~np.isin(data["word"], sorted(EXTRA))
    for k in range(3):
        m_tr = sel & (inner != k)
        m_te = sel & (inner == k) & calib
        xt, yt, _ = rows_of(data, m_tr, every)
        mk = train(xt, yt, args.l2, neg_weight=args.neg_weight, hidden=args.hidden,
                   ensemble=args.ensemble)
        xe, ye, _ = rows_of(data, m_te, (0, 1))
        lgs.append(logits(mk, xe))
        ys.append(ye)
    off = choose_offsets(np.concatenate(lgs), np.concatenate(ys), args.max_false_yes)
    return model, off


def report(data, sel, model, off, variant):
    m = sel & data["has"][:, variant]
    v = np.full(len(data["label"]), 3)
    v[m] = verdicts(logits(model, data["feats"][m, variant]), off)
    # a clip with no speech at all is unclear
    y, kind, word = data["label"], data["kind"], data["word"]
    sc = sel & (kind == "sc")
    r = {
        "yes": np.mean(v[sc & (y == YES)] == YES),
        "no": np.mean(v[sc & (y == NO)] == NO),
        "cancel": np.mean(v[sc & (y == CANCEL)] == CANCEL),
        "false_yes_sc": np.mean(v[sc & (y != YES)] == YES),
        "false_yes_all": np.mean(v[sel & (y != YES) & (kind != "tts-untrained")] == YES),
        "tts_yes": np.mean(v[sel & (kind == "tts") & (y == YES)] == YES),
        "composite_yes": np.mean(v[sel & (kind == "composite") & (y == YES)] == YES),
        "background_yes": int(np.sum(v[sel & np.isin(kind, ["background", "noise", "cough"])] == YES)),
    }
    r["extra_yes"] = np.mean(v[sel & np.isin(word, sorted(EXTRA))] == YES)
    r["named_yes"] = int(np.sum(v[sel & np.isin(word, NAMED)] == YES))
    r["named_n"] = int(np.sum(sel & np.isin(word, NAMED)))
    sc_words = {}
    sc_key = np.array([w.split(":")[0] for w in word])  # "unknown:six" -> "unknown"
    for w in np.unique(sc_key[sc & (y != YES)]):
        mm = sc & (sc_key == w)
        sc_words[w] = np.mean(v[mm] == YES)
    worst_sc = max(sc_words.items(), key=lambda t: t[1])
    r["worst_sc_word"] = worst_sc[1]
    r["worst_sc_name"] = worst_sc[0]
    per_word = {}
    for w in np.unique(word[sel & (y != YES)]):
        mm = sel & (word == w) & (y != YES)
        per_word[w] = (int(np.sum(v[mm] == YES)), int(np.sum(mm)))
    for w in ("yeah", "yep", "nope"):
        mm = sel & (word == w)
        if mm.any():
            r[f"untrained_{w}_yes"] = np.mean(v[mm] == YES)
            r[f"untrained_{w}_no"] = np.mean(v[mm] == NO)
    return r, per_word


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--background", type=int, default=600, help="background speech segments")
    ap.add_argument("--coughs", type=int, default=240)
    ap.add_argument("--composites", type=int, default=240)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--neg-weight", type=float, default=2.0)
    ap.add_argument("--hidden", type=int, default=128, help="ReLU units of a hidden layer (0: linear)")
    ap.add_argument("--ensemble", type=int, default=4, help="networks averaged (with --hidden)")
    ap.add_argument("--max-false-yes", type=float, default=0.003)
    ap.add_argument("--refeaturize", action="store_true")
    ap.add_argument("--no-speed", action="store_true", help="no speed-perturbed training copies")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--no-kfold", action="store_true", help="only train and export")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "answer_head.onnx"))
    ap.add_argument("--exclude-speakers-of", action="append", default=[], metavar="DIR",
                    help="train the exported head without the Speech Commands speakers of "
                         "DIR/commands/*/*.wav (e.g. the held-out answers of the recipient "
                         "protocol, to measure whole flows with a head that never heard them)")
    args = ap.parse_args()

    data = featurize(args)
    if not args.no_speed:
        sf_, sh = featurize_speed(args, data)
        data["feats"] = np.concatenate([data["feats"], sf_], axis=1)
        data["has"] = np.concatenate([data["has"], sh], axis=1)
    y = data["label"]
    fold = np.array([group_fold(g, args.folds, args.seed) for g in data["group"]])
    n_sc_spk = len(np.unique(data["group"][data["kind"] == "sc"]))
    print(f"{len(y)} clips ({np.sum(data['kind'] == 'sc')} Speech Commands, {n_sc_spk} groups), "
          f"{args.folds} folds over {len(np.unique(data['group']))} groups")
    keys = ["yes", "no", "cancel", "false_yes_sc", "worst_sc_word", "false_yes_all", "extra_yes",
            "tts_yes", "composite_yes", "background_yes", "named_yes"]
    res = {0: [], 1: []}
    worst = {0: [], 1: []}
    for k in range(0 if args.no_kfold else args.folds):
        model, off = fit(data, fold != k, args)
        for variant in (0, 1):
            r, pw = report(data, fold == k, model, off, variant)
            res[variant].append(r)
            bad = sorted(((a / n, w, a, n) for w, (a, n) in pw.items() if n >= 5), reverse=True)[:3]
            worst[variant].append(bad[0])
            print(f"fold {k} {'clean' if variant == 0 else 'noisy 10-20 dB'}: offsets {np.round(off, 1)}; "
                  + ", ".join(f"{q} {r[q]}" if q in ("background_yes", "named_yes") else f"{q} {r[q]:.1%}"
                              for q in keys)
                  + f" (worst SC word: {r['worst_sc_name']}; named words {r['named_yes']}/{r['named_n']})"
                  + "; most read as yes: " + ", ".join(f"{w} {a}/{n}" for _, w, a, n in bad))
            extra = {q: v for q, v in r.items() if q.startswith("untrained")}
            if extra:
                print("    not trained on: " + ", ".join(f"{q} {v:.0%}" for q, v in extra.items()))
    for variant in (() if args.no_kfold else (0, 1)):
        print(f"== {'clean' if variant == 0 else 'noisy 10-20 dB SNR (held-out noise/babble)'}")
        for q in keys:
            vals = np.array([r[q] for r in res[variant]], float)
            if q in ("background_yes", "named_yes"):
                tot = sum(r["named_n"] for r in res[variant]) if q == "named_yes" else None
                print(f"  {q}: total {int(vals.sum())}" + (f" of {tot}" if tot else ""))
            else:
                print(f"  {q}: mean {vals.mean():.2%}, min {vals.min():.2%}, max {vals.max():.2%}")
        print("  worst single word per fold: " + ", ".join(f"{w} {a}/{n}" for _, w, a, n in worst[variant]))

    if args.no_export:
        return
    keep = np.ones(len(y), bool)
    if args.exclude_speakers_of:
        spk = {"sc:" + os.path.basename(p).split("_")[0]
               for d in args.exclude_speakers_of
               for p in glob.glob(os.path.join(d, "commands", "*", "*.wav"))}
        keep = ~np.isin(data["group"], sorted(spk))
        print(f"export without {len(spk)} speakers: {np.sum(~keep)} clips left out")
    model, off = fit(data, keep, args)
    w, b = model[-1]
    model[-1] = (w, b + np.concatenate([off, [0.0]]))
    meta = {"labels": "yes,no,cancel,other",
            "trained_by": "models/train/answer_head.py",
            "args": json.dumps({k: v for k, v in vars(args).items() if k not in ("out",)}),
            "offsets": json.dumps(np.round(off, 2).tolist())}
    af.export_head(args.out, model, meta)
    print(f"wrote {args.out} (offsets {np.round(off, 2)})")


if __name__ == "__main__":
    main()
