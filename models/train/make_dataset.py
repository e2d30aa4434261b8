#!/usr/bin/env python3
"""Build augmented 2-second training examples for the streaming TCN.

    python3 models/train/make_dataset.py --data /work/data --out /work/data/pack --seed 1

Reads /work/data/corpora_index.csv (unpack_and_index.py) and
/work/data/synth/manifest.csv (synth.py). Writes, for each split
(train/val/test):

    OUT/<split>/audio.i16   N clips x CLIP samples, raw int16 LE, 16 kHz
    OUT/<split>/meta.csv    label, end_sample (last speech sample of the
                            keyword in the clip, -1 for none), source, path

Features are then computed by the crate's own front end
(`cargo run --release --example featurize`), so training and runtime agree.

Each example: a 2 s background bed (real noise, real speech from other
datasets summed as babble, or near silence) and, for most examples, one
utterance (a keyword / intent word, or a negative word) placed so that its
end falls late in the clip, where the network's outputs are trained. The
utterance is augmented (gain, speed +-12 %, room reverberation) and mixed
at an SNR drawn from 0-25 dB, or left clean. With --preceding-speech P, in
a fraction P of word examples real speech at about the word's level ends
0.1-0.8 s before the word, as when a keyword follows other talk. With
--hard, the false alarms mined on the training split (mine_hard.py) are
added as negatives.

Splits: real recordings by speaker group (Speech Commands speaker hashes;
the wake-word benchmark by contiguous file-index blocks, a proxy for
speakers since the files carry no speaker id); synthetic clips by voice.
"""
import argparse
import csv
import hashlib
import os
import re
import wave

import numpy as np

SR = 16000
CLIP = 32000  # 2.0 s -> 198 frames; outputs trained on frames 128..197
HOP, FRAME = 160, 400
CONTEXT = 128

KEYWORDS = ["alexa", "computer", "jarvis", "smart_mirror", "snowboy", "view_glass"]
LABELS = ["background", *KEYWORDS, "send_message", "yes", "no", "cancel"]
# corpus label -> model label for positives
REAL_POSITIVE = {**{k: k for k in KEYWORDS}, "yes": "yes", "no": "no", "stop": "cancel"}
REAL_NEGATIVE = {"go", "up", "down", "on", "off", "left", "right", "unknown"}


def read_wav(path):
    if os.path.getsize(path) <= 44:  # header only: two corpus noise files are empty
        return np.zeros(0, np.float32)
    with wave.open(path, "rb") as w:
        assert w.getframerate() == SR, path
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
        if w.getnchannels() > 1:
            x = x.reshape(-1, w.getnchannels()).mean(1)
    return x / 32768.0


def word_bounds(x, max_gap_frames=35):
    """(start_s, end_s) of the utterance around the loudest frame.

    10 ms hop, 20 ms RMS frames. Speech frames are those above
    max(noise floor + 10 dB, peak - 30 dB); starting from the loudest
    frame, the region grows across gaps of up to 350 ms (between the words
    of "smart mirror", "send a message to"), so stray clicks and breaths far
    from the word do not stretch it. Returns None for silent clips.
    """
    n = 1 + max(0, len(x) - 320) // 160
    if len(x) < 320:
        return None
    idx = np.arange(320)[None, :] + 160 * np.arange(n)[:, None]
    fr = x[idx]
    fr = fr - fr.mean(1, keepdims=True)
    db = 10 * np.log10((fr ** 2).mean(1) + 1e-12)
    floor, peak = np.percentile(db, 10), db.max()
    if peak - floor < 6:
        return None
    mask = db > max(floor + 10, peak - 30)
    i = int(db.argmax())
    lo = hi = i
    gap = 0
    j = i
    while j + 1 < n and gap <= max_gap_frames:
        j += 1
        if mask[j]:
            hi, gap = j, 0
        else:
            gap += 1
    gap, j = 0, i
    while j > 0 and gap <= max_gap_frames:
        j -= 1
        if mask[j]:
            lo, gap = j, 0
        else:
            gap += 1
    return lo * 0.01, hi * 0.01 + 0.02


def stable_hash(s):
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)


def split_of_group(group, path, source):
    if source == "keywords":
        # contiguous index blocks as a speaker proxy: last 15 % test, previous 10 % val
        m = re.search(r"_(\d+)\.wav$", path)
        idx = int(m.group(1)) if m else stable_hash(path) % 300
        return None, idx
    h = stable_hash(group) % 100
    return ("test" if h < 15 else "val" if h < 25 else "train"), None


def load_items(data):
    rows = list(csv.DictReader(open(os.path.join(data, "corpora_index.csv"))))
    items = []  # dict(path, label (model label or 'negative'), start, end, split, source)
    beds = {"noise": [], "speech": []}
    rirs = []
    kw_idx = {}
    for r in rows:
        path = os.path.join(data, r["path"])
        src, lab = r["source"], r["label"]
        if src == "noise":
            if os.path.getsize(path) > 16000:
                beds["noise"].append(path)
            continue
        if src == "rir":
            rirs.append(path)
            continue
        if src in ("s2i", "fsdd"):
            split, _ = split_of_group(r["group"], path, src)
            beds["speech"].append((path, split))
            continue
        if src == "commands" and lab == "silence":
            beds["noise"].append(path)
            continue
        start, end = float(r["speech_start_s"] or 0), float(r["speech_end_s"] or 0)
        if end <= start:
            continue
        if lab in REAL_POSITIVE:
            label = REAL_POSITIVE[lab]
        elif lab in REAL_NEGATIVE:
            label = "negative"
        else:
            continue
        split, idx = split_of_group(r["group"], path, src)
        item = dict(path=path, label=label, start=start, end=end, split=split, source=src)
        if split is None:
            kw_idx.setdefault(lab, []).append((idx, item))
        items.append(item)
    for lab, lst in kw_idx.items():
        lst.sort(key=lambda t: t[0])
        n = len(lst)
        for rank, (_, item) in enumerate(lst):
            q = rank / n
            item["split"] = "test" if q >= 0.85 else "val" if q >= 0.75 else "train"

    synth_manifest = os.path.join(data, "synth", "manifest.csv")
    if os.path.exists(synth_manifest):
        for r in csv.DictReader(open(synth_manifest)):
            lab = r["label"]
            if r.get("kind") == "sentence_kw":
                # sentences that contain a keyword ("computer science"): the keyword
                # is really spoken, so they are neither clean negatives nor alignable
                # positives; left out.
                continue
            label = "negative" if lab == "negative" else lab
            if label != "negative" and label not in LABELS:
                continue
            label_end = None
            if label == "send_message" and not re.search(r"(message|to)[.!?]?$", r["text"].strip().lower()):
                # "send a message to Alice": the intent ends where the name starts
                # (prefix_end_s, from the engine's word timings or an alignment); the
                # name stays in the clip, after the labelled end.
                if not r.get("prefix_end_s"):
                    continue
                label_end = float(r["prefix_end_s"])
            start, end = float(r["speech_start_s"] or 0), float(r["speech_end_s"] or 0)
            if end <= start:
                continue
            voice = f'{r["engine"]}:{r["voice"]}'
            h = stable_hash(voice) % 100
            split = "test" if h < 12 else "val" if h < 22 else "train"
            items.append(dict(path=os.path.join(data, "synth", r["path"]) if not os.path.isabs(r["path"]) else r["path"],
                              label=label, start=start, end=end, split=split, source="synth",
                              label_end=label_end))
    return items, beds, rirs


class Cache:
    def __init__(self):
        self.d = {}
        self.b = {}

    def bounds(self, path):
        if path not in self.b:
            self.b[path] = word_bounds(self.get(path))
        return self.b[path]

    def get(self, path):
        if path not in self.d:
            self.d[path] = read_wav(path)
        return self.d[path]


def rms(x):
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def make_bed(rng, cache, beds, split):
    kind = rng.choice(["noise", "babble", "quiet"], p=[0.45, 0.35, 0.20])
    bed = np.zeros(CLIP, np.float32)
    if kind == "noise" and beds["noise"]:
        x = cache.get(beds["noise"][rng.integers(len(beds["noise"]))])
        if len(x) < CLIP:
            x = np.tile(x, CLIP // max(len(x), 1) + 1)
        o = rng.integers(0, len(x) - CLIP + 1)
        bed += x[o:o + CLIP]
    elif kind == "babble":
        pool = [p for p, s in beds["speech"] if s == split] or [p for p, _ in beds["speech"]]
        for _ in range(rng.integers(1, 4)):
            x = cache.get(pool[rng.integers(len(pool))])
            if len(x) < CLIP:
                x = np.pad(x, (0, CLIP - len(x)))
            o = rng.integers(0, len(x) - CLIP + 1)
            seg = x[o:o + CLIP]
            bed += seg / max(rms(seg), 1e-4) * 0.05 * rng.uniform(0.3, 1.0)
    bed += rng.standard_normal(CLIP).astype(np.float32) * 10 ** rng.uniform(-4.5, -3.0)
    return bed


def augment_word(rng, x, rirs, cache):
    speed = rng.uniform(0.88, 1.12)
    if abs(speed - 1) > 0.01:
        n = int(len(x) / speed)
        x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)
    if rirs and rng.random() < 0.3:
        h = cache.get(rirs[rng.integers(len(rirs))])
        h = h[np.argmax(np.abs(h)):][:SR // 2]
        h = h / (np.abs(h).max() + 1e-9)
        y = np.fft.irfft(np.fft.rfft(x, len(x) + len(h)) * np.fft.rfft(h, len(x) + len(h)))[: len(x)]
        x = (y / (rms(y) + 1e-9) * rms(x)).astype(np.float32)
    return x, speed


def random_channel(rng, x):
    """A random microphone/room colouring: a smooth gain curve over
    log-frequency (7 control points, +-6 dB each, linear in log f between
    them), and with probability 0.3 each a high-pass (100-400 Hz) and a
    low-pass (3.5-7 kHz) roll-off. Applied to a whole example so that no
    recording channel stays a cue for a label."""
    spec = np.fft.rfft(x.astype(np.float64))
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    lf = np.log(np.maximum(f, 50.0))
    pts = np.linspace(np.log(50.0), np.log(SR / 2), 7)
    gain_db = np.interp(lf, pts, rng.uniform(-6, 6, len(pts)))
    if rng.random() < 0.3:
        fc = rng.uniform(100, 400)
        gain_db += 10 * np.log10(1 / (1 + (fc / np.maximum(f, 1.0)) ** 4))
    if rng.random() < 0.3:
        fc = rng.uniform(3500, 7000)
        gain_db += 10 * np.log10(1 / (1 + (f / fc) ** 8))
    y = np.fft.irfft(spec * 10 ** (gain_db / 20), len(x))
    return y.astype(np.float32)


def speech_foreground(rng, cache, beds, split):
    """2 s of real conversational speech (other datasets' speakers of this
    split), clips concatenated until the clip is full: the background talk
    that must not wake the device, at full level rather than as a bed."""
    pool = [p for p, s in beds["speech"] if s == split] or [p for p, _ in beds["speech"]]
    out = np.zeros(0, np.float32)
    while len(out) < CLIP:
        x = cache.get(pool[rng.integers(len(pool))])
        if len(x) == 0:
            continue
        o = rng.integers(0, max(1, len(x) - CLIP // 2))
        out = np.concatenate([out, x[o:o + CLIP]])
    out = out[:CLIP]
    return out / max(rms(out), 1e-4) * 0.1


def make_example(rng, item, cache, beds, rirs, split, preceding_speech=0.0, channel=0.0):
    bed = make_bed(rng, cache, beds, split)
    end_sample = -1
    out = bed
    if item == "SPEECH":
        fg = speech_foreground(rng, cache, beds, split)
        snr = rng.uniform(5, 30)
        out = fg + bed / (rms(bed) + 1e-9) * rms(fg) / 10 ** (snr / 20)
    elif item is not None:
        x = cache.get(item["path"])
        start, end = item.get("bounds") or cache.bounds(item["path"])
        s = max(0, int((start - 0.10) * SR))
        e = min(len(x), int((end + 0.05) * SR))
        # the labelled end: the utterance's end, or where the intent phrase ends
        # inside "send a message to <name>"
        label_end = item.get("label_end") or end
        word_end_in_seg = int(label_end * SR) - s
        x = x[s:e]
        x, speed = augment_word(rng, x, rirs, cache)
        word_end_in_seg = int(word_end_in_seg / speed)
        # place the word's end at an output frame between 135 and 185
        end_frame = rng.integers(135, 186)
        target_end = end_frame * HOP + FRAME - 1
        offset = target_end - word_end_in_seg
        word = np.zeros(CLIP, np.float32)
        lo, hi = max(0, offset), min(CLIP, offset + len(x))
        word[lo:hi] = x[lo - offset:hi - offset]
        # (no random draw when disabled, so packs made before the option
        # existed are reproduced exactly)
        if preceding_speech > 0 and rng.random() < preceding_speech:
            # somebody was talking just before: real speech at about the word's
            # level, ending 0.1-0.8 s before the word (as in a conversation, or
            # a stream where the keyword follows other talk)
            pre_end = lo - int(rng.uniform(0.1, 0.8) * SR)
            if pre_end > SR // 4:
                talk = speech_foreground(rng, cache, beds, split)[:pre_end]
                level = rms(x) / (rms(talk) + 1e-9) * 10 ** (rng.uniform(-6, 3) / 20)
                word[pre_end - len(talk):pre_end] += talk * level
        if rng.random() < 0.25:
            mix = word + bed * 0.1
        else:
            snr = rng.uniform(0, 25)
            bed_scale = rms(x) / (rms(bed) + 1e-9) / 10 ** (snr / 20)
            mix = word + bed * bed_scale
        out = mix
        if item["label"] != "negative":
            end_sample = target_end
    # (no random draw when disabled: older packs are reproduced exactly)
    if channel > 0 and rng.random() < channel:
        out = random_channel(rng, out)
    peak = np.abs(out).max() + 1e-9
    level = 10 ** rng.uniform(-2.0, -0.3)  # -40 .. -6 dBFS peak
    out = out / peak * level
    return np.clip(np.round(out * 32768), -32768, 32767).astype("<i2"), end_sample


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--out", default="/work/data/pack")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--real-copies", type=int, default=6, help="augmented copies per real positive")
    ap.add_argument("--synth-copies", type=int, default=2)
    ap.add_argument("--intent-copies", type=int, default=8)
    ap.add_argument("--named-intent-copies", type=int, default=2)
    ap.add_argument("--negative-copies", type=int, default=2)
    ap.add_argument("--bed-only", type=float, default=0.25, help="extra fraction of pure-background examples")
    ap.add_argument("--speech-negatives", type=float, default=0.3,
                    help="extra fraction of examples whose foreground is real background speech")
    ap.add_argument("--hard", nargs="*", default=[],
                    help="hard negatives from mine_hard.py (folders with a manifest.csv)")
    ap.add_argument("--hard-copies", type=int, default=2)
    ap.add_argument("--preceding-speech", type=float, default=0.0,
                    help="fraction of word examples with real speech just before the word")
    ap.add_argument("--channel", type=float, default=0.0,
                    help="fraction of examples given a random microphone/room colouring "
                         "(random_channel)")
    args = ap.parse_args()
    items, beds, rirs = load_items(args.data)
    for hard in args.hard:
        for r in csv.DictReader(open(os.path.join(hard, "manifest.csv"))):
            # the window ends 0.3 s after the false alarm's first crossing: that
            # crossing is placed where a keyword's end would be
            n = os.path.getsize(r["path"]) - 44
            items.append(dict(path=r["path"], label="negative", split="train", source="hard",
                              bounds=(0.0, max(0.1, n / 2 / SR - 0.3))))
    cache = Cache()
    for split in ["train", "val", "test"]:
        rng = np.random.default_rng([args.seed, ["train", "val", "test"].index(split)])
        mine = [it for it in items if it["split"] == split
                and (it.get("bounds") or cache.bounds(it["path"])) is not None]
        plan = []
        for it in mine:
            if it["source"] == "hard":
                k = args.hard_copies
            elif it["label"] == "negative":
                k = args.negative_copies
            elif it["label"] == "send_message":
                # the intent exists only as synthetic speech
                k = args.intent_copies if it.get("label_end") is None else args.named_intent_copies
            elif it["source"] == "synth":
                k = args.synth_copies
            else:
                k = args.real_copies
            if split != "train":
                k = 1
            plan += [it] * k
        n_items = len(plan)
        plan += [None] * int(n_items * args.bed_only)
        plan += ["SPEECH"] * int(n_items * args.speech_negatives)
        order = rng.permutation(len(plan))
        d = os.path.join(args.out, split)
        os.makedirs(d, exist_ok=True)
        counts = {}
        with open(os.path.join(d, "audio.i16"), "wb") as fa, open(os.path.join(d, "meta.csv"), "w", newline="") as fm:
            w = csv.writer(fm)
            w.writerow(["label", "end_sample", "source", "path"])
            for i in order:
                it = plan[i]
                pcm, end = make_example(rng, it, cache, beds, rirs, split, args.preceding_speech,
                                        args.channel)
                fa.write(pcm.tobytes())
                if it is None or it == "SPEECH":
                    label, source, path = "background", "bed" if it is None else "speech", ""
                else:
                    label = "background" if it["label"] == "negative" else it["label"]
                    source, path = it["source"], it["path"]
                w.writerow([label, end, source, path])
                counts[label] = counts.get(label, 0) + 1
        print(split, len(plan), dict(sorted(counts.items())), flush=True)


if __name__ == "__main__":
    main()
