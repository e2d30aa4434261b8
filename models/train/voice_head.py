#!/usr/bin/env python3
"""The voice check (issue 18): k-fold measurement over speakers, and the shipped projection.

    nice -n 5 python3 models/train/voice_head.py --data /work/data            # k-fold, then export
    python3 models/train/voice_head.py --data /work/data --no-export          # k-fold only

First run: about 5 min on 2 cores (features cached in DATA/voice_feats_*.npz),
then under a minute. Needs numpy, soundfile, onnxruntime and onnx, and
DATA/corpora_index.csv (unpack_and_index.py).

Question: is the answer ("yes", under half a second) spoken by the person who
made the request (1.5-4 s of speech)? The data with speaker labels here are
the Speech Commands clips (134 speakers, one word per 1 s clip, 1-50 clips
each); the requests are built from them.

Voice features of one utterance (the shipped `--features mel+pitch`, exactly
`src/voice.rs`, checked by `tests/voice.rs` against
testdata/golden/voice_golden.json):
  1. speech bounds as in answer_features.cut (10 ms frames, active at
     >= max(0.1 x the loudest frame's RMS, 20)), no active frame: no voice;
  2. the speech region, PAD (300 ms) before the first active frame to PAD
     after the last, clipped to the recording, split into at most
     MAX_PIECES pieces of MAX_CUT (1.9 s) samples from its start;
  3. each piece in a zero 2.5 s buffer from PAD on, through Google's
     speech_embedding mel front end (melspectrogram.onnx, read as
     x / 10 + 2), as the answer scorer does;
  4. the mel frames of the active 10 ms frames; their mean and standard
     deviation per bin (64 values);
  5. pitch (3 values, `pitch` below).
`--features embedding` (the mean and standard deviation of the 96-value
speech_embedding windows of every piece) and `both` are measured for
comparison: that network was trained to hear words whoever says them, and
tells speakers apart far worse (README, "Who is answering").
Voice vector: the projection head (voice_head.onnx: subtract the training
mean, multiply by an LDA matrix, 67 -> DIM), then divided by its length.
Score: the cosine of the two vectors (their dot product), in [-1, 1].

The projection: linear discriminant analysis over speakers (within-speaker
scatter regularised), trained on the training folds' clips and requests,
clean and in noise, each speaker also at speeds 0.9 and 1.1 as two more
pseudo-speakers (tempo and pitch move together: other voices).

Trials, per held-out fold of speakers (never trained on):
  * request: three other clips of the speaker, their speech joined by
    0.1-0.25 s pauses (1.5-3.5 s of speech);
  * same speaker: the request and the speaker's own "yes" (Speech Commands
    "yes" folder), clean, and both in noise or 4-talker babble at 10-20 dB
    SNR from the fold's own held-out noise files and talkers;
  * different speaker: the request and every other held-out speaker's "yes";
  * replay: the speaker's own "yes" through a held-out room response and a
    loudspeaker's band (high-pass 250 Hz, low-pass 5 kHz, soft clipping),
    scored against the speaker's request: the issue's recorded "yes" played
    from another device, a case that must be refused.
Reports, per fold and as mean (min-max): the equal error rate; and at the
threshold chosen on the other folds' held-out trials alone (their median
threshold for TARGET_KEEP of same-speaker answers kept) the share of
same-speaker answers kept and of different-speaker and replayed answers
accepted.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import defaultdict

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import answer_features as af  # noqa: E402
from answer_head import Mixer, group_fold, read16, speed  # noqa: E402

SR = 16000
MAX_PIECES = 2
DIM = 24
TARGET_KEEP = 0.95
PITCH_VOICED = 0.5
# columns of the cached features: embedding mean, std (192); log-mel mean, std (64);
# pitch (3)
FEATURE_SETS = {"embedding": slice(0, 192), "mel": slice(192, 256), "both": slice(0, 256),
                "mel+pitch": slice(192, 259)}


class VoiceEmbedder(af.Embedder):
    def windows(self, pcm):
        """The embedding windows of an utterance (n x 96), or None."""
        x = np.asarray(pcm, np.float64)
        f = len(x) // af.FRAME
        if f == 0:
            return None
        rms = np.sqrt((x[: f * af.FRAME].reshape(f, af.FRAME) ** 2).mean(axis=1))
        level = max(af.ACTIVE_REL * rms.max(), af.ACTIVE_FLOOR)
        on = np.flatnonzero(rms >= level)
        if len(on) == 0:
            return None
        a = max(0, on[0] * af.FRAME - af.PAD)
        b = min(len(x), (on[-1] + 1) * af.FRAME + af.PAD)
        out, mel = [], []
        for k in range(MAX_PIECES):
            piece = x[a + k * af.MAX_CUT: min(b, a + (k + 1) * af.MAX_CUT)]
            if len(piece) == 0:
                break
            buf = np.zeros((1, af.WINDOW), dtype=np.float32)
            buf[0, af.PAD: af.PAD + len(piece)] = piece
            spec = np.squeeze(self.mel.run(None, {self.mel_in: buf})[0]) / 10 + 2
            n = af.n_windows(len(piece))
            wins = np.stack([spec[i * af.MEL_STRIDE: i * af.MEL_STRIDE + af.MEL_WIN] for i in range(n)])
            e = self.emb.run(None, {self.emb_in: wins[:, :, :, None].astype(np.float32)})[0]
            out.append(e.reshape(n, 96))
            start = a + k * af.MAX_CUT
            q = on[(on * af.FRAME >= start) & (on * af.FRAME < start + len(piece))]
            j = (af.PAD + q * af.FRAME - start) // af.FRAME
            mel.append(spec[j[j < af.MEL_FRAMES]])
        return np.concatenate(out), np.concatenate(mel)

    def features(self, pcm):
        w = self.windows(pcm)
        if w is None:
            return None
        e, m = w
        return np.concatenate([e.mean(axis=0), e.std(axis=0),
                               m.mean(axis=0), m.std(axis=0), pitch(pcm)]).astype(np.float32)


def pitch(pcm):
    """Three pitch values of an utterance: the median and interquartile range
    of ln(F0) over its voiced active frames, and the share of them voiced.

    Frames: the active 10 ms frames q (as in `windows`) whose start lies in
    the region read (the first MAX_PIECES * MAX_CUT samples from the
    region's start), each the 640 samples (40 ms) from q*160 + 80 - 320, the
    frames that fit in the recording; each minus its mean. Autocorrelation
    ac(l) (exact, by a 2048-point FFT); r(l) = ac(l) / (ac(0) + 1e-9) for
    lags l = 40..320 (400 to 50 Hz; not corrected for the overlap's length,
    so that of a period's multiples the shortest wins); the frame is
    voiced when the largest r (first lag on ties) exceeds PITCH_VOICED, its
    F0 = 16000 / lag. Fewer than 3 voiced frames: (ln 150, 0, 0).
    """
    x = np.asarray(pcm, np.float64)
    f = len(x) // af.FRAME
    rms = np.sqrt((x[: f * af.FRAME].reshape(f, af.FRAME) ** 2).mean(axis=1))
    level = max(af.ACTIVE_REL * rms.max(), af.ACTIVE_FLOOR)
    on = np.flatnonzero(rms >= level)
    a = max(0, on[0] * af.FRAME - af.PAD)
    qs = on[on * af.FRAME < a + MAX_PIECES * af.MAX_CUT]
    lo = qs * af.FRAME + 80 - 320
    lo = lo[(lo >= 0) & (lo + 640 <= len(x))]
    f0 = np.zeros(0)
    if len(lo):
        fr = np.stack([x[i:i + 640] for i in lo])
        fr = fr - fr.mean(axis=1, keepdims=True)
        sp = np.fft.rfft(fr, 2048, axis=1)
        ac = np.fft.irfft(np.abs(sp) ** 2, 2048, axis=1)[:, :321]
        r = ac[:, 40:321] / (ac[:, :1] + 1e-9)
        best = r.argmax(axis=1)
        voiced = r[np.arange(len(r)), best] > PITCH_VOICED
        f0 = np.log(16000.0 / (best[voiced] + 40))
    if len(f0) < 3:
        return np.array([np.log(150.0), 0.0, 0.0])
    return np.array([np.median(f0), np.percentile(f0, 75) - np.percentile(f0, 25),
                     len(f0) / len(lo)])


def trimmed(x, start, end):
    a = max(0, int((start - 0.05) * SR))
    b = min(len(x), int((end + 0.05) * SR))
    return x[a:b] if b > a else x


def replay(rng, x, mixer, fold):
    """A recording played from another device: a room, a loudspeaker's band, soft clipping."""
    h = mixer._pool(mixer.rir, fold)
    h = h[int(rng.integers(len(h)))]
    y = np.convolve(x, h)[: len(x)]
    spec = np.fft.rfft(y)
    f = np.fft.rfftfreq(len(y), 1 / SR)
    spec *= 1 / np.sqrt(1 + (250 / np.maximum(f, 1)) ** 4) / np.sqrt(1 + (f / 5000) ** 4)
    y = np.fft.irfft(spec, len(y))
    peak = np.abs(y).max() + 1e-9
    y = np.tanh(1.5 * y / peak) / np.tanh(1.5) * 0.5 * 32768
    return np.clip(y, -32768, 32767)


def gather(args):
    rows = [r for r in csv.DictReader(open(os.path.join(args.data, "corpora_index.csv")))
            if r["source"] == "commands" and r["speaker_known"] == "1"]
    by = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["path"]):
        by[r["speaker"]].append(r)
    return {s: v for s, v in sorted(by.items()) if len(v) >= 2}


def featurize(args):
    cache = os.path.join(args.data, f"voice_feats3_s{args.seed}_f{args.folds}.npz")
    if os.path.exists(cache) and not args.refeaturize:
        z = np.load(cache, allow_pickle=True)
        return {k: z[k] for k in z.files}
    rng = np.random.default_rng(args.seed)
    speakers = gather(args)
    mixer = Mixer(args)
    emb = VoiceEmbedder()
    feats, spk, kind, word, variant = [], [], [], [], []

    def add(x, s, k, w, v):
        f = emb.features(np.round(np.clip(x, -32768, 32767)))
        if f is not None:
            feats.append(f)
            spk.append(s)
            kind.append(k)
            word.append(w)
            variant.append(v)

    for n, (s, rs) in enumerate(speakers.items()):
        fold = group_fold(s, args.folds, args.seed)
        clips = [(r, read16(os.path.join(args.data, r["path"]))) for r in rs]
        utts = [("clip", r["word"], x) for r, x in clips]
        # requests: three other clips' speech joined by short pauses
        others = [trimmed(x, float(r["speech_start_s"] or 0), float(r["speech_end_s"] or 1))
                  for r, x in clips if r["word"] != "yes"]
        if len(others) >= 3:
            for _ in range(args.requests):
                pick = rng.choice(len(others), size=3, replace=False)
                parts = []
                for i in pick:
                    parts += [np.zeros(int(rng.uniform(0.1, 0.25) * SR)), others[i]]
                parts.append(np.zeros(int(0.3 * SR)))
                utts.append(("request", "", np.concatenate(parts)))
        for k, w, x in utts:
            x = x + rng.standard_normal(len(x)) * 3.0  # a microphone's noise floor
            add(x, s, k, w, "clean")
            add(mixer.mix(rng, x, fold, 10, 20, 0.0), s, k, w, "noisy")
            add(mixer.mix(rng, x, fold, 0, 20, 0.5), s, k, w, "train_noisy")
            for fac in (0.9, 1.1):
                add(speed(x, fac), f"{s}@{fac}", k, w, "speed")
            if k == "clip" and w == "yes":
                add(replay(rng, x, mixer, fold), s, "replay", w, "replay")
        if n % 20 == 0:
            print(f"  featurized {n}/{len(speakers)} speakers, {len(feats)} utterances",
                  file=sys.stderr, flush=True)
    out = dict(feats=np.array(feats), speaker=np.array(spk), kind=np.array(kind),
               word=np.array(word), variant=np.array(variant))
    np.savez(cache, **out)
    return out


def base_speaker(s):
    return s.split("@")[0]


def lda(x, labels, dim, reg):
    """(mean, W): the LDA projection of x (rows) separating `labels`."""
    mu = x.mean(axis=0)
    xc = x - mu
    classes = sorted(set(labels))
    sw = np.zeros((x.shape[1], x.shape[1]))
    sb = np.zeros_like(sw)
    for c in classes:
        m = labels == c
        xm = xc[m]
        cm = xm.mean(axis=0)
        d = xm - cm
        sw += d.T @ d
        sb += m.sum() * np.outer(cm, cm)
    sw /= len(x)
    sb /= len(x)
    sw += reg * np.trace(sw) / len(sw) * np.eye(len(sw))
    # whiten sw, then eigen of the whitened sb
    ev, evec = np.linalg.eigh(sw)
    wh = evec / np.sqrt(ev)
    sbw = wh.T @ sb @ wh
    ev2, evec2 = np.linalg.eigh(sbw)
    order = np.argsort(ev2)[::-1][:dim]
    w = wh @ evec2[:, order]
    return mu.astype(np.float32), w.astype(np.float32)


def vectors(x, mu, w):
    v = (x - mu) @ w
    return v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)


def fit(data, train_mask, args):
    sel = train_mask & np.isin(data["kind"], ["clip", "request"]) & \
        np.isin(data["variant"], ["clean", "train_noisy", "speed"])
    return lda(data["feats"][sel].astype(np.float64), data["speaker"][sel], args.dim, args.reg)


def eer(tar, non):
    s = np.sort(np.concatenate([tar, non]))
    best = (1.0, 0.0)
    for t in s:
        frr = np.mean(tar < t)
        far = np.mean(non >= t)
        if abs(frr - far) < best[0]:
            best = (abs(frr - far), (frr + far) / 2)
    return best[1]


def trials(data, fold_mask, mu, w, variant, rng):
    """Scores (same, different, replay) of the held-out speakers in fold_mask."""
    f, s, k, wd, v = (data[n] for n in ("feats", "speaker", "kind", "word", "variant"))
    req = fold_mask & (k == "request") & (v == variant)
    yes = fold_mask & (k == "clip") & (wd == "yes") & (v == variant)
    rep = fold_mask & (k == "replay")
    rv, rs = vectors(f[req], mu, w), s[req]
    yv, ys = vectors(f[yes], mu, w), s[yes]
    pv, ps = vectors(f[rep], mu, w), s[rep]
    sc = rv @ yv.T
    same = sc[rs[:, None] == ys[None, :]]
    diff = sc[rs[:, None] != ys[None, :]]
    rp = (rv @ pv.T)[rs[:, None] == ps[None, :]]
    return same, diff, rp


def kfold(data, args):
    rng = np.random.default_rng(args.seed)
    base = np.array([base_speaker(s) for s in data["speaker"]])
    fold_of = np.array([group_fold(b, args.folds, args.seed) for b in base])
    results = {"clean": [], "noisy": []}
    for k in range(args.folds):
        mu, w = fit(data, fold_of != k, args)
        held = (fold_of == k) & (base == data["speaker"])
        for variant in results:
            same, diff, rp = trials(data, held, mu, w, variant, rng)
            results[variant].append((same, diff, rp))
    # thresholds: for each fold, the median over the other folds of the
    # threshold keeping TARGET_KEEP of their same-speaker answers
    for variant, rs in results.items():
        th = [np.quantile(same, 1 - args.keep) for same, _, _ in rs]
        print(f"== {variant}: {args.folds}-fold over Speech Commands speakers "
              f"(request = 3 clips, answer = a 'yes')")
        rows = []
        for k, (same, diff, rp) in enumerate(rs):
            t = float(np.median([th[j] for j in range(len(rs)) if j != k]))
            row = (eer(same, diff), np.mean(same >= t), np.mean(diff >= t), np.mean(rp >= t), t)
            rows.append(row)
            print(f"  fold {k}: trials same {len(same)}, different {len(diff)}, replay {len(rp)}; "
                  f"EER {row[0]:.1%}; at {t:.3f}: same kept {row[1]:.1%}, different accepted "
                  f"{row[2]:.1%}, replay accepted {row[3]:.1%}")
        a = np.array(rows)
        names = ["EER", "same kept", "different accepted", "replay accepted"]
        print("  mean (min-max): " + "; ".join(
            f"{n} {a[:, i].mean():.1%} ({a[:, i].min():.1%}-{a[:, i].max():.1%})"
            for i, n in enumerate(names)))
    return results


def export(data, args, threshold):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    base = np.array([base_speaker(s) for s in data["speaker"]])
    mu, w = fit(data, np.ones(len(base), bool), args)
    nodes = [helper.make_node("Sub", ["features", "mean"], ["centred"]),
             helper.make_node("MatMul", ["centred", "W"], ["voice"])]
    g = helper.make_graph(
        nodes, "voice_head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, mu.shape[0]])],
        [helper.make_tensor_value_info("voice", TensorProto.FLOAT, [1, args.dim])],
        [numpy_helper.from_array(mu[None, :], "mean"), numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="wakeguard voice_head.py")
    m.ir_version = 8
    meta = {"dim": args.dim, "reg": args.reg, "seed": args.seed,
            "speakers": len(set(base)), "threshold_k_fold": f"{threshold:.4f}",
            "features": args.features}
    for key, v in meta.items():
        p = m.metadata_props.add()
        p.key = key
        p.value = str(v)
    onnx.checker.check_model(m)
    onnx.save(m, args.out)
    print(f"wrote {args.out}: {args.dim}-d, {len(set(base))} speakers, "
          f"k-fold threshold {threshold:.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/data")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--requests", type=int, default=4, help="requests built per speaker")
    p.add_argument("--dim", type=int, default=DIM)
    p.add_argument("--reg", type=float, default=0.01, help="within-speaker scatter regularisation")
    p.add_argument("--keep", type=float, default=TARGET_KEEP)
    p.add_argument("--features", choices=sorted(FEATURE_SETS), default="mel+pitch")
    p.add_argument("--refeaturize", action="store_true")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "..", "voice_head.onnx"))
    args = p.parse_args()
    data = featurize(args)
    data["feats"] = data["feats"][:, FEATURE_SETS[args.features]]
    print(f"{len(data['feats'])} utterances, "
          f"{len(set(base_speaker(s) for s in data['speaker']))} speakers", file=sys.stderr)
    res = kfold(data, args)
    if not args.no_export:
        same = np.concatenate([s for s, _, _ in res["clean"]])
        export(data, args, float(np.quantile(same, 1 - args.keep)))


if __name__ == "__main__":
    main()
