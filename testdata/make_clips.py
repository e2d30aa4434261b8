#!/usr/bin/env python3
"""Regenerate the synthetic test recordings in testdata/clips/ and testdata/demo.wav.

    apt-get install espeak-ng flite sox
    python3 testdata/make_clips.py

Every clip is text-to-speech (espeak-ng, flite) over quiet seeded noise,
16 kHz mono 16-bit. Nothing here comes from the corpora.
"""
import os
import subprocess
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 16000
RNG = np.random.default_rng(20261123)


def tts(engine, voice, text, rate=None):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        out = os.path.join(tmp, "out.wav")
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", voice, "-w", raw]
            if rate:
                cmd += ["-s", str(rate)]
            subprocess.run(cmd + [text], check=True)
        else:
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", raw], check=True)
        subprocess.run(["sox", "-D", raw, "-r", str(SR), "-c", "1", "-b", "16", out], check=True)
        with wave.open(out) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    nz = np.flatnonzero(np.abs(x) > 200)
    return x[nz[0]:nz[-1] + 1] if len(nz) else x


def noise(seconds, level=60.0):
    return RNG.standard_normal(int(seconds * SR)) * level


def sequence(parts):
    """parts: list of float (seconds of quiet noise) or arrays of speech."""
    out = []
    for p in parts:
        out.append(noise(p) if isinstance(p, float) else p + noise(len(p) / SR))
    return np.concatenate(out)


def write(path, x):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    print(f"{path}: {len(pcm) / SR:.2f} s")


def main():
    clips = os.path.join(HERE, "clips")
    write(os.path.join(clips, "computer.wav"),
          sequence([0.6, tts("espeak", "en-us+m2", "Computer.", 150), 0.9]))
    write(os.path.join(clips, "jarvis.wav"),
          sequence([0.6, tts("flite", "slt", "Jarvis."), 0.9]))
    write(os.path.join(clips, "chatter.wav"),
          sequence([0.5, tts("espeak", "en+f2", "I think the weather will be lovely this afternoon, "
                                                "so we could walk to the market and buy some bread.", 160), 0.8]))
    write(os.path.join(HERE, "demo.wav"), sequence([
        0.8, tts("espeak", "en-us+m3", "The kettle is on, do you want some tea?", 165),
        1.0, tts("espeak", "en-us+m2", "Computer.", 150),
        1.2, tts("espeak", "en-us+f3", "Send a message to Alice.", 150),
        1.5, tts("espeak", "en-us+f3", "Yes.", 150),
        1.5,
    ]))


if __name__ == "__main__":
    main()
