#!/usr/bin/env python3
"""The validation protocol of issue 6: long annotated streams where the
wake words sit between real background speech, clean and with real noise
at 10 dB SNR, built with the crate's own `evaluate make-stream`.

    cargo build --release --example evaluate
    python3 models/train/make_heldout.py --split test --out /work/data/heldout
    python3 models/train/make_heldout.py --split val --out /work/data/valset
    python3 models/train/make_background.py --data /work/data --snr 10
    python3 models/train/make_eval_streams.py --data /work/data

Writes, for SPLIT in val and test (folders from make_heldout.py):
- DATA/streams/SPLIT_clean.wav and SPLIT_snr10.wav (+ .csv annotations):
  the split's background speech (s2i, fsdd and the Speech
  Commands non-answer words of the split's speakers, repeated as needed)
  with the split's wake-word clips inserted, 4 per minute (the stream is
  long enough for about every clip once), every clip at -26 dBFS active
  level; the _snr10 stream adds the real noise recordings 10 dB below it.
- DATA/streams/SPLIT_background_{clean,snr10}.wav: the split's background
  alone (no annotations: every event is a false alarm), the noisy copy
  from make-stream as well.
- DATA/streams/SPLIT.csv: the pair list for `evaluate stream --list`;
  SPLIT_list_clean.csv and SPLIT_list_snr10.csv: one condition each.
- DATA/streams/all_background.csv: background_all.wav and its noisy copy
  (1.6 h each, all background speech of the corpora, partly seen in
  training as negatives), for a longer but optimistic false-alarm count;
  DATA/streams/val_plus_all_background.csv: both lists, where thresholds
  are chosen.

Thresholds are chosen on val (choose_thresholds.py); test is only reported.
"""
import argparse
import os
import subprocess

import soundfile as sf

NON_ANSWERS = ["go", "up", "down", "on", "off", "left", "right", "unknown"]


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--evaluate", default="target/release/examples/evaluate")
    ap.add_argument("--per-minute", type=float, default=4.0)
    args = ap.parse_args()
    out = os.path.join(args.data, "streams")
    os.makedirs(out, exist_ok=True)
    noise = os.path.join(args.data, "corpora", "noise")
    empty = os.path.join(out, "empty.csv")
    with open(empty, "w") as f:
        f.write("label,start,end\n")
    for seed, (split, folder) in enumerate([("val", "valset"), ("test", "heldout")], start=1):
        d = os.path.join(args.data, folder)
        kw = os.path.join(d, "keywords")
        n_clips = sum(len(os.listdir(os.path.join(kw, k))) for k in os.listdir(kw))
        stream_minutes = n_clips / args.per_minute + 1  # about every clip once
        bg = [os.path.join(d, "speech")] + [os.path.join(d, "commands", w) for w in NON_ANSWERS]
        pairs = []
        for cond in ["clean", "snr10"]:
            wav = os.path.join(out, f"{split}_{cond}.wav")
            cmd = [args.evaluate, "make-stream", "--positives", os.path.join(d, "keywords"),
                   "--background", *bg, "--seed", str(seed), "--minutes", f"{stream_minutes:.1f}",
                   "--per-minute", str(args.per_minute), "--skip-bad", "--out", wav]
            if cond == "snr10":
                cmd += ["--noise", noise, "--snr", "10"]
            run(cmd)
            pairs.append((wav, wav[:-4] + ".csv"))
        # the split's background alone, clean and noisy
        clean_bg = os.path.join(out, f"{split}_background_clean.wav")
        run(["sox", os.path.join(d, "background.wav"), clean_bg])
        x, sr = sf.read(clean_bg, dtype="float32")
        minutes = len(x) / sr / 60
        noisy_bg = os.path.join(out, f"{split}_background_snr10.wav")
        # make-stream with no positive inserted: one per 10^6 min never comes
        run([args.evaluate, "make-stream", "--positives", os.path.join(d, "keywords"),
             "--background", *bg, "--seed", str(seed + 10), "--minutes", f"{minutes:.2f}",
             "--per-minute", "0.000001", "--skip-bad", "--noise", noise, "--snr", "10", "--out", noisy_bg])
        pairs += [(clean_bg, empty), (noisy_bg, empty)]
        lists = {f"{split}.csv": pairs, f"{split}_list_clean.csv": pairs[0::2],
                 f"{split}_list_snr10.csv": pairs[1::2]}
        for name, chosen in lists.items():
            with open(os.path.join(out, name), "w") as f:
                f.write("wav,annotations\n")
                for w, a in chosen:
                    f.write(f"{os.path.basename(w)},{os.path.basename(a)}\n")
    all_bg = "".join(f"{os.path.join(args.data, name)},{empty}\n"
                     for name in ["background_all.wav", "background_all_noise10db.wav"])
    with open(os.path.join(out, "all_background.csv"), "w") as f:
        f.write("wav,annotations\n" + all_bg)
    # threshold choice: the val streams plus all background (evaluate takes one --list)
    with open(os.path.join(out, "val.csv")) as f:
        val = f.read()
    with open(os.path.join(out, "val_plus_all_background.csv"), "w") as f:
        f.write(val + all_bg)
    print(f"streams in {out}")


if __name__ == "__main__":
    main()
