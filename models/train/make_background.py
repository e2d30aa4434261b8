#!/usr/bin/env python3
"""Concatenate all background speech of the corpora into one long WAV, and
a copy mixed with the real noise recordings at a given SNR.

    python3 models/train/make_background.py --data /work/data --snr 10

Writes DATA/background_all.wav (s2i, fsdd and the Speech Commands
non-answer words back to back: 1.60 h; partly seen in training) and
DATA/background_all_noise<SNR>db.wav. Used to check that whole requests on
background speech never get anywhere:

    cargo run --release --example send_message -- --json --contacts testdata/flows/m/contacts.toml DATA/background_all.wav
"""
import argparse
import glob
import os
import subprocess

import numpy as np
import soundfile as sf


def mix_noise(x, noise, rng, snr):
    """`x` plus the `noise` recordings (concatenated in a seeded random
    order, repeated to the length of `x`) at `snr` dB below the speech level
    of `x`: the RMS of its louder half of 100 ms frames. Peak-limited to 1."""
    n = np.concatenate([noise[i] for i in rng.permutation(len(noise))])
    n = np.tile(n, len(x) // len(n) + 1)[:len(x)]
    frames = x[: len(x) // 1600 * 1600].reshape(-1, 1600)
    energy = (frames ** 2).mean(1)
    speech_rms = np.sqrt(energy[energy > np.percentile(energy, 50)].mean())  # louder half: speech
    y = x + n * speech_rms / np.sqrt((n ** 2).mean()) / 10 ** (snr / 20)
    return y / max(1.0, float(np.abs(y).max()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/data")
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=10)
    args = ap.parse_args()
    c = os.path.join(args.data, "corpora")
    files = sorted(glob.glob(f"{c}/speech/s2i/*.wav")) + sorted(glob.glob(f"{c}/speech/fsdd/*.wav"))
    for word in ["unknown", "go", "up", "down", "on", "off", "left", "right"]:
        files += sorted(glob.glob(f"{c}/commands/{word}/*.wav"))
    clean = os.path.join(args.data, "background_all.wav")
    subprocess.run(["sox", *files, clean], check=True)

    x, sr = sf.read(clean, dtype="float32")
    noise = [sf.read(f, dtype="float32")[0] for f in sorted(glob.glob(f"{c}/noise/*.wav"))
             if os.path.getsize(f) > 16000]  # two corpus noise files are empty
    y = mix_noise(x, noise, np.random.default_rng(args.seed), args.snr)
    noisy = os.path.join(args.data, f"background_all_noise{args.snr:g}db.wav")
    sf.write(noisy, y, sr, subtype="PCM_16")
    print(f"{clean}: {len(x) / sr / 3600:.2f} h; {noisy}")


if __name__ == "__main__":
    main()
