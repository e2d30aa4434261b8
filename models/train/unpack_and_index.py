#!/usr/bin/env python3
"""Decode the shared corpora to WAV and write an index with speaker and VAD columns.

    nice -n 19 python unpack_and_index.py \
        --corpora /work/shared/corpora --dest /work/data/corpora \
        --index /work/data/corpora_index.csv

Step 1 runs the corpora's own unpack.sh (FLAC -> 16 kHz mono int16 WAV, same
layout, idempotent).  Step 2 writes the index, one row per WAV:

  path            relative to the index file's folder (e.g. corpora/keywords/alexa/alexa_0.wav)
  source          keywords | commands | s2i | fsdd | noise | rir
  label           folder label: the keyword, the command word (yes, ..., unknown, silence),
                  s2i, fsdd, noise, rir
  word            what is said when known: keyword, command word (for commands/unknown the
                  actual word from the file name, e.g. "backward"), fsdd digit; else empty
  intent          s2i only: intent and slots from labels.json (k=v;k=v)
  duration_s
  speaker         speaker id where the file name gives one, prefixed by source:
                  commands "sc:<hash>" (<word>_<hash>_nohash_<n>), fsdd "fsdd:<name>"
                  (<digit>_<name>_<n>).  Empty where it cannot be derived: the keyword
                  files are named <keyword>_<uuid> / alexa_<n> with a different uuid for
                  every file, s2i files are bare uuids, silence/noise/rir have none.
  speaker_known   1 if speaker is a real speaker id
  group           split unit: speaker if known, else "file:<source>/<stem>" (one file = one
                  group; such files may share an unknown speaker across splits)
  speech_start_s, speech_end_s, vad_snr_db
                  energy VAD (vad.py); empty for noise and rir, where it means nothing.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vad import vad_file  # noqa: E402

COLUMNS = ["path", "source", "label", "word", "intent", "duration_s", "speaker", "speaker_known",
           "group", "speech_start_s", "speech_end_s", "vad_snr_db"]

SC_RE = re.compile(r"^(?:(?P<word>[a-z]+)_)?(?P<spk>[0-9a-f]{8})_nohash_(?P<n>\d+)$")
FSDD_RE = re.compile(r"^(?P<digit>\d)_(?P<spk>[a-z]+)_(?P<n>\d+)$")


def describe(rel_in_corpora: str, s2i_labels: dict):
    """Return dict(source, label, word, intent, speaker) for a path relative to the corpora root."""
    parts = rel_in_corpora.split("/")
    stem = os.path.splitext(parts[-1])[0]
    d = dict(word="", intent="", speaker="")
    top = parts[0]
    if top == "keywords":
        d.update(source="keywords", label=parts[1], word=parts[1].replace("_", " "))
    elif top == "commands":
        label = parts[1]
        d.update(source="commands", label=label)
        m = SC_RE.match(stem)
        if m:
            d["speaker"] = "sc:" + m["spk"]
            d["word"] = m["word"] or (label if label != "silence" else "")
        elif label != "silence":
            d["word"] = label
    elif top == "speech" and parts[1] == "s2i":
        d.update(source="s2i", label="s2i")
        lab = s2i_labels.get(stem)
        if lab:
            slots = ";".join(f"{k}={str(v).strip()}" for k, v in sorted(lab.get("slots", {}).items()))
            d["intent"] = lab.get("intent", "") + (";" + slots if slots else "")
    elif top == "speech" and parts[1] == "fsdd":
        d.update(source="fsdd", label="fsdd")
        m = FSDD_RE.match(stem)
        if m:
            d["speaker"] = "fsdd:" + m["spk"]
            d["word"] = m["digit"]
    elif top in ("noise", "rir"):
        d.update(source=top, label=top)
    else:
        d.update(source=top, label=parts[-2] if len(parts) > 1 else top)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="/work/shared/corpora")
    ap.add_argument("--dest", default="/work/data/corpora")
    ap.add_argument("--index", default="/work/data/corpora_index.csv")
    ap.add_argument("--skip-unpack", action="store_true")
    args = ap.parse_args()

    t0 = time.time()
    if not args.skip_unpack:
        subprocess.run(["bash", os.path.join(args.corpora, "unpack.sh"), args.dest], check=True)
    t1 = time.time()

    labels_path = os.path.join(args.dest, "speech", "s2i", "labels.json")
    s2i = json.load(open(labels_path)) if os.path.exists(labels_path) else {}
    base = os.path.dirname(os.path.abspath(args.index))
    wavs = []
    for root, _, files in os.walk(args.dest):
        wavs += [os.path.join(root, f) for f in files if f.endswith(".wav")]
    wavs.sort()
    rows = []
    for n, p in enumerate(wavs):
        rel = os.path.relpath(p, args.dest).replace(os.sep, "/")
        d = describe(rel, s2i)
        dur, s0, s1, snr = vad_file(p)
        if d["source"] in ("noise", "rir"):
            s0 = s1 = snr = None
        known = bool(d["speaker"])
        stem = os.path.splitext(rel)[0]
        rows.append(dict(path=os.path.relpath(p, base).replace(os.sep, "/"), duration_s=dur,
                         speaker_known=int(known),
                         group=d["speaker"] if known else f"file:{stem}",
                         speech_start_s="" if s0 is None else s0,
                         speech_end_s="" if s1 is None else s1,
                         vad_snr_db="" if snr is None else snr, **d))
        if (n + 1) % 1000 == 0:
            print(f"  indexed {n + 1}/{len(wavs)}", flush=True)
    with open(args.index, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    t2 = time.time()

    print(f"unpack {t1 - t0:.0f}s, index {t2 - t1:.0f}s: {len(rows)} rows -> {args.index}")
    by = Counter((r["source"], r["label"]) for r in rows)
    for (s, l), c in sorted(by.items()):
        spk = {r["speaker"] for r in rows if r["source"] == s and r["label"] == l and r["speaker"]}
        nov = sum(1 for r in rows if r["source"] == s and r["label"] == l and r["speech_start_s"] == ""
                  and s not in ("noise", "rir"))
        print(f"  {s:9s} {l:13s} {c:5d} files, {len(spk):4d} speakers" + (f", {nov} without VAD speech" if nov else ""))


if __name__ == "__main__":
    main()
