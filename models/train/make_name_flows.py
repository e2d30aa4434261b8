#!/usr/bin/env python3
"""The recipient protocol (issue 12): whole send-message requests in many voices.

    nice -n 19 python3 models/train/make_name_flows.py \
        --heldout /work/data/testset --heldout /work/data/valset \
        --out /work/data/name_flows

Every request is a whole flow, as a person would make it:

    a real wake word (a held-out keyword-benchmark clip), a pause,
    "Send a message to <name>", 0-300 ms, the message (or the whole request
    as one sentence with no pause at all between name and message),
    the time the device takes to read back, a real "yes" (a held-out
    Speech Commands clip), silence.

The names are enrolled in isolation, 1 to 5 recordings each, by the same
voice with other rate and pitch (a person never says a name twice the same
way; flite, festival and piper pitch is moved by sox within +-75 cents only,
since sox moves the formants too). Contact books hold 3 to 8 names and, in half of them, a
similar-sounding pair (Jon / Jonathan, Ann / Anna, Mark / Marcus, ...).

Flow kinds (column `kind` of manifest.jsonl):
  intended   an enrolled, unblocked contact; must be delivered to it
  unknown    a name that is not in the book; must be refused before the read-back
  similar    an unenrolled name that sounds like an enrolled one (the other half
             of a pair); must be refused
  blocked    the blocked contact of the book; must be refused
  housemate  an enrolled contact, asked for by another voice than the one
             that enrolled the names (measured and reported, no target)

Split (column `split`): voices, names and messages are divided into `dev`
(every choice of method and threshold) and `test` (measured once), so a test
flow shares no voice setting, name or message with any dev flow. Wake words
and answers come from the held-out splits of the corpora, never trained on.

Writes OUT/<split>/<voice>/book<k>/{contacts.toml, enroll_*.wav, flow_*.wav}
and OUT/manifest.jsonl (one flow per line: wav, contacts, kind, expect,
voice, split, gap_ms, style). Deterministic for a given --seed.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from synth import Piper, build_slots, draw_params, render, seed_of  # noqa: E402

SR = 16000

# Similar-sounding pairs: both members always land in the same split.
PAIRS = [
    ("Jon", "Jonathan"), ("Ann", "Anna"), ("Mark", "Marcus"), ("Dan", "Daniel"),
    ("Paul", "Paula"), ("Carl", "Carla"), ("Eric", "Erica"), ("Ben", "Benjamin"),
    ("Nick", "Nicholas"), ("Max", "Maxwell"), ("Leo", "Leon"), ("Mia", "Maya"),
    ("Emma", "Emily"), ("Joe", "Joel"), ("Tess", "Tessa"), ("Rob", "Robin"),
    ("Kim", "Kimberly"), ("Al", "Alan"), ("Jane", "Jean"), ("Luke", "Lucas"),
]
SINGLES = [
    "Priya", "Oscar", "Hannah", "George", "Fatima", "Ivan", "Chloe", "Mateo",
    "Yuki", "Ruth", "Omar", "Beatrice", "Felix", "Nadia", "Hugo", "Ingrid",
    "Rafael", "Sienna", "Tobias", "Wanda", "Xavier", "Yasmin", "Zachary", "Greta",
    "Amir", "Bianca", "Caleb", "Delia", "Elliot", "Flora", "Gavin", "Helena",
    "Isaac", "Julia", "Kevin", "Lena", "Martin", "Nora", "Patrick", "Rosa",
]
MESSAGES = [
    "I am running late", "Call me when you land", "Dinner is at eight",
    "The keys are under the mat", "Can you pick up some milk", "Happy birthday",
    "I will be home in ten minutes", "The meeting moved to Thursday",
    "Do not forget the tickets", "See you at the station", "The train is delayed",
    "Please feed the cat", "I left my phone at work", "Let us meet for lunch",
    "Bring an umbrella", "The package arrived today", "Good luck with the exam",
    "I found your glasses", "We need more coffee", "The car is ready",
]


def split_half(items, seed, tag):
    rng = np.random.default_rng(seed_of(seed, "split", tag))
    order = rng.permutation(len(items))
    half = len(items) // 2
    return [items[i] for i in order[:half]], [items[i] for i in order[half:]]


def read16(path):
    x, sr = sf.read(path, dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    assert sr == SR, path
    return x * 32768.0


def trim(x, level=300.0):
    """Trim to the speech (10 ms frames above `level` RMS) with 50 ms around it."""
    f = len(x) // 160
    if f == 0:
        return x
    rms = np.sqrt((x[: f * 160].reshape(f, 160) ** 2).mean(axis=1))
    on = np.flatnonzero(rms >= level)
    if len(on) == 0:
        return x
    a = max(0, (on[0] - 5) * 160)
    b = min(len(x), (on[-1] + 6) * 160)
    return x[a:b]


class Renderer:
    def __init__(self, tmp):
        self.tmp = tmp
        self.piper = None

    def say(self, slot, text, rng, rep=0, nrep=1):
        speed, pitch, params = draw_params(slot, rng, rep, nrep)
        # sox's pitch shift moves the formants with the pitch, which makes
        # another vocal tract rather than the same person on another day:
        # keep it within +-75 cents (synth.py's training range is +-300).
        if params.get("cents"):
            params = dict(params, cents=int(params["cents"] / 4))
        if slot.engine == "piper" and self.piper is None:
            self.piper = Piper()
        job = dict(label="flow", text=text, kind="flow", slot=slot, speed=speed, pitch=pitch,
                   params=params)
        dst = os.path.join(self.tmp, "clip.wav")
        render(job, dst, self.tmp, self.piper)
        return trim(read16(dst))


def noise(rng, seconds, level):
    return rng.standard_normal(int(seconds * SR)) * level


def assemble(rng, parts, floor):
    """parts: float (seconds of pause) or arrays; quiet noise everywhere."""
    out = []
    for p in parts:
        if isinstance(p, float):
            out.append(noise(rng, p, floor))
        else:
            out.append(p + rng.standard_normal(len(p)) * floor)
    return np.concatenate(out)


def write(path, x):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2")
    sf.write(path, pcm, SR, subtype="PCM_16")


def level(x, db):
    """Scale x so that its speech RMS is `db` dBFS."""
    rms = np.sqrt(np.mean(x ** 2)) + 1e-9
    return x * (32768.0 * 10 ** (db / 20) / rms)


def clips(heldout_dirs, sub):
    out = []
    for d in heldout_dirs:
        out += sorted(glob.glob(os.path.join(d, sub, "*.wav")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", action="append", required=True,
                    help="make_heldout.py output (keywords/<word>/, commands/yes/); repeatable")
    ap.add_argument("--out", default="/work/data/name_flows")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--books", type=int, default=4, help="contact books per voice")
    ap.add_argument("--voices", type=int, default=12, help="voices per split")
    args = ap.parse_args()

    wakes = [c for w in ("alexa", "computer", "jarvis", "smart_mirror", "snowboy", "view_glass")
             for c in clips(args.heldout, f"keywords/{w}")]
    yeses = clips(args.heldout, "commands/yes")
    if not wakes or not yeses:
        sys.exit("no held-out wake words or yes clips under --heldout")

    slots = build_slots(["espeak", "flite", "festival", "piper"], piper_slots=2)
    # Every engine in both splits: each engine's voices are shuffled and dealt
    # alternately to dev and test, then each split takes them round-robin
    # across engines.
    rng0 = np.random.default_rng(seed_of(args.seed, "voices"))
    dealt = {"dev": [], "test": []}
    for engine in ("espeak", "flite", "festival", "piper"):
        mine = [slots[i] for i in rng0.permutation(len(slots)) if slots[i].engine == engine]
        dealt["dev"].append(mine[0::2])
        dealt["test"].append(mine[1::2])

    def round_robin(groups):
        out = []
        for k in range(max(len(g) for g in groups)):
            out += [g[k] for g in groups if k < len(g)]
        return out[: args.voices]

    dev_slots, test_slots = round_robin(dealt["dev"]), round_robin(dealt["test"])
    pairs = split_half(PAIRS, args.seed, "pairs")
    singles = split_half(SINGLES, args.seed, "singles")
    messages = split_half(MESSAGES, args.seed, "messages")

    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        r = Renderer(tmp)
        for split, split_slots, (spairs, ssingles, smsgs) in (
            ("dev", dev_slots, (pairs[0], singles[0], messages[0])),
            ("test", test_slots, (pairs[1], singles[1], messages[1])),
        ):
            for vi, slot in enumerate(split_slots):
                vname = f"{slot.engine}-{slot.voice}-{slot.n}".replace("+", "_")
                for b in range(args.books):
                    rng = np.random.default_rng(seed_of(args.seed, split, slot.key, b))
                    size = int(rng.integers(3, 9))
                    names, outside = [], []
                    if rng.random() < 0.75:
                        # a similar pair: both enrolled, or one enrolled and the other asked for
                        p = spairs[int(rng.integers(len(spairs)))]
                        if rng.random() < 0.5:
                            names += list(p)
                        else:
                            k = int(rng.integers(2))
                            names.append(p[k])
                            outside.append(("similar", p[1 - k]))
                    pool = [n for n in ssingles + [x for p in spairs for x in p] if n not in names
                            and n not in [o for _, o in outside]]
                    pick = rng.permutation(len(pool))
                    for i in pick:
                        if len(names) >= size:
                            break
                        names.append(pool[i])
                    rest = [pool[i] for i in pick if pool[i] not in names]
                    outside.append(("unknown", rest[0]))
                    blocked = names[int(rng.integers(len(names)))] if rng.random() < 0.6 else None
                    bdir = os.path.join(args.out, split, vname, f"book{b}")
                    os.makedirs(bdir, exist_ok=True)
                    toml = []
                    for ni, name in enumerate(names):
                        k = int(rng.choice([1, 1, 2, 3, 3, 5]))
                        files = []
                        for e in range(k):
                            x = r.say(slot, f"{name}.", rng, e, k)
                            x = level(x, float(rng.uniform(-30, -18)))
                            fn = f"enroll_{ni}_{e}.wav"
                            write(os.path.join(bdir, fn), assemble(rng, [0.3, x, 0.3], 20.0))
                            files.append(fn)
                        toml.append(f'[[contact]]\nname = "{name}"\nsamples = {json.dumps(files)}\n'
                                    + ("blocked = true\n" if name == blocked else ""))
                    with open(os.path.join(bdir, "contacts.toml"), "w") as f:
                        f.write("\n".join(toml))

                    requests = [("intended", n, slot) for n in names if n != blocked]
                    requests += [(kind, n, slot) for kind, n in outside]
                    if blocked:
                        requests.append(("blocked", blocked, slot))
                    # the housemate: another voice of the same split asks for one contact
                    other = split_slots[(vi + 1 + b) % len(split_slots)]
                    hm = [n for n in names if n != blocked]
                    requests.append(("housemate", hm[int(rng.integers(len(hm)))], other))
                    for fi, (kind, name, who) in enumerate(requests):
                        msg = smsgs[int(rng.integers(len(smsgs)))]
                        style = "joined" if rng.random() < 0.4 else "split"
                        gap = 0 if style == "joined" else int(rng.integers(0, 301))
                        db = float(rng.uniform(-30, -16))
                        wake = read16(wakes[int(rng.integers(len(wakes)))])
                        yes = read16(yeses[int(rng.integers(len(yeses)))])
                        if style == "joined":
                            req = r.say(who, f"Send a message to {name} {msg.lower()}.", rng)
                            parts = [level(req, db)]
                        else:
                            a = level(r.say(who, f"Send a message to {name}.", rng), db)
                            m = level(r.say(who, f"{msg}.", rng), db + float(rng.uniform(-3, 3)))
                            parts = [a, gap / 1000.0, m]
                        # read-back: 1.2 s of silence ends the recording, then the prompt
                        # ("Send a N-second message to NAME?") takes 0.3 s + 65 ms per character
                        readback = 1.2 + 0.3 + 0.065 * (31 + len(name)) + float(rng.uniform(0.3, 0.8))
                        x = assemble(rng, [float(rng.uniform(0.5, 1.0)), wake,
                                           float(rng.uniform(0.4, 0.8))] + parts
                                     + [readback, yes, 1.5], float(rng.uniform(10, 40)))
                        fn = f"flow_{fi:02d}_{kind}.wav"
                        write(os.path.join(bdir, fn), x)
                        manifest.append(dict(
                            wav=os.path.relpath(os.path.join(bdir, fn), args.out),
                            contacts=os.path.relpath(os.path.join(bdir, "contacts.toml"), args.out),
                            kind=kind, name=name,
                            expect=name if kind in ("intended", "housemate") else None,
                            voice=vname, request_voice=f"{who.engine}-{who.voice}-{who.n}".replace("+", "_"),
                            split=split, style=style, gap_ms=gap, book_size=len(names)))
                print(f"{split} {vname}: {sum(1 for m in manifest if m['voice'] == vname)} flows",
                      flush=True)
    with open(os.path.join(args.out, "manifest.jsonl"), "w") as f:
        for m in manifest:
            f.write(json.dumps(m) + "\n")
    kinds = {}
    for m in manifest:
        kinds[(m["split"], m["kind"])] = kinds.get((m["split"], m["kind"]), 0) + 1
    print(json.dumps({f"{s}/{k}": n for (s, k), n in sorted(kinds.items())}))


if __name__ == "__main__":
    main()
