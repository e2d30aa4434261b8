#!/usr/bin/env python3
"""Regenerate the MFCC golden references in testdata/golden/.

The WAVs are made here (espeak-ng for speech, numpy with a fixed seed for
synthetic signals); the reference features come from kaldi-native-fbank, an
independent C++ implementation of Kaldi's compute-mfcc-feats.

    pip install numpy==2.* kaldi-native-fbank==1.23.0
    apt-get install espeak-ng sox
    python3 testdata/make_golden.py

Two references per clip and preset:
- `<clip>.<preset>.knf.csv`: kaldi-native-fbank (float32 arithmetic, like Kaldi).
- `<clip>.<preset>.f64.csv`: the same algorithm written out below in numpy
  float64 (Kaldi's framing, povey window, mel banks, DCT, lifter), the exact
  value that float32 implementations approximate.

The Rust test tests/golden_mfcc.rs compares the crate's output with both.
"""
import os
import subprocess
import tempfile
import wave

import kaldi_native_fbank as knf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden")
SR = 16000

# name -> (n_mels, high_freq, n_ceps): must match MfccConfig::kaldi() / wakeguard_v1().
PRESETS = {"kaldi": (23, 0.0, 13), "wakeguard_v1": (40, 7600.0, 20)}


def write_wav(path, pcm):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.astype("<i2").tobytes())


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def espeak(text, voice, path):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", raw, text], check=True)
        subprocess.run(["sox", raw, "-r", str(SR), "-c", "1", "-b", "16", path], check=True)


def synthetic(path):
    rng = np.random.default_rng(20261123)
    t = np.arange(int(1.2 * SR)) / SR
    chirp = np.sin(2 * np.pi * (100 * t + 0.5 * (7000 - 100) / t[-1] * t**2))
    x = 6000 * chirp + 800 * rng.standard_normal(t.size)
    x[int(0.5 * SR):int(0.6 * SR)] = 0.0  # digital silence: log floor path
    x[int(0.9 * SR):] *= 5.0  # loud, clipped section
    write_wav(path, np.clip(np.round(x), -32768, 32767))


def kaldi_mfcc(pcm, n_mels, high, n_ceps):
    o = knf.MfccOptions()
    o.frame_opts.dither = 0.0
    o.frame_opts.samp_freq = SR
    o.frame_opts.snip_edges = True
    o.mel_opts.num_bins = n_mels
    o.mel_opts.low_freq = 20.0
    o.mel_opts.high_freq = high
    o.num_ceps = n_ceps
    o.use_energy = False
    m = knf.OnlineMfcc(o)
    m.accept_waveform(SR, pcm.astype(np.float32).tolist())  # int16 scale, as Kaldi reads WAVs
    m.input_finished()
    return np.array([m.get_frame(i) for i in range(m.num_frames_ready)], dtype=np.float64)


def f64_mfcc(pcm, n_mels, high, n_ceps, n=400, hop=160, nfft=512, low=20.0, q=22.0):
    x = pcm.astype(np.float64)
    frames = 1 + (len(x) - n) // hop if len(x) >= n else 0
    i = np.arange(n)
    win = (0.5 - 0.5 * np.cos(2 * np.pi * i / (n - 1))) ** 0.85
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)
    high = SR / 2 + high if high <= 0 else high
    lo, hi = mel(low), mel(high)
    delta = (hi - lo) / (n_mels + 1)
    fm = mel(np.arange(nfft // 2) * SR / nfft)
    fb = np.zeros((n_mels, nfft // 2))
    for b in range(n_mels):
        l, c, r = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
        m = (fm > l) & (fm < r)
        fb[b, m] = np.where(fm[m] <= c, (fm[m] - l) / (c - l), (r - fm[m]) / (r - c))
    k = np.arange(n_ceps)[:, None]
    j = np.arange(n_mels)[None, :]
    dct = np.sqrt(2.0 / n_mels) * np.cos(np.pi / n_mels * (j + 0.5) * k)
    dct[0] *= np.sqrt(0.5)
    lifter = 1.0 + 0.5 * q * np.sin(np.pi * np.arange(n_ceps) / q)
    out = np.zeros((frames, n_ceps))
    for f in range(frames):
        w = x[f * hop:f * hop + n].copy()
        w -= w.mean()
        w[1:] -= 0.97 * w[:-1].copy()
        w[0] -= 0.97 * w[0]
        power = np.abs(np.fft.rfft(w * win, nfft)) ** 2
        energies = np.maximum(fb @ power[: nfft // 2], np.finfo(np.float32).eps)
        out[f] = (dct @ np.log(energies)) * lifter
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    clips = {
        "speech_en_us.wav": lambda p: espeak("Send a message to Alice.", "en-us", p),
        "speech_en_f.wav": lambda p: espeak("Computer, yes, cancel that.", "en+f3", p),
        "synthetic.wav": synthetic,
    }
    for name, make in clips.items():
        path = os.path.join(OUT, name)
        if not os.path.exists(path):
            make(path)
        pcm = read_wav(path)
        for preset, (n_mels, high, n_ceps) in PRESETS.items():
            knf_feats = kaldi_mfcc(pcm, n_mels, high, n_ceps)
            ref = f64_mfcc(pcm, n_mels, high, n_ceps)
            for kind, feats in (("knf", knf_feats), ("f64", ref)):
                out = os.path.join(OUT, f"{name[:-4]}.{preset}.{kind}.csv")
                np.savetxt(out, feats, fmt="%.6f", delimiter=",")
            print(f"{name} {preset}: {ref.shape[0]} frames x {ref.shape[1]}, "
                  f"kaldi-native-fbank vs float64: max abs diff {np.abs(knf_feats - ref).max():.2e}")


if __name__ == "__main__":
    main()
