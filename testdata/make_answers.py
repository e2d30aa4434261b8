#!/usr/bin/env python3
"""Regenerate testdata/answers/: short answer recordings for tests/answer_words.rs.

    apt-get install espeak-ng flite sox
    python3 testdata/make_answers.py

Text-to-speech (espeak-ng en-us+f2 at 150 wpm, flite kal) with 0.2 s of quiet
seeded noise on both sides, 16 kHz mono 16-bit, named WORD_VOICE.wav. The
answers ("yes", "no", "cancel", "stop") and the words the gate must never
take for a yes (issue 13): "right", "sure", "left", "guess", "yesterday",
"less", and laughter ("ha ha ha"). These voices are among those the answer
head was trained on (models/train/answer_head.py): the tests check
behaviour, the k-fold in the README measures generalisation.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_clips import tts, write  # noqa: E402

SR = 16000
OUT = os.path.join(HERE, "answers")
WORDS = ["yes", "no", "cancel", "stop", "right", "sure", "left", "guess", "yesterday", "less",
         "ha ha ha"]
VOICES = [("espeak", "en-us+f2", 150, "espeak"), ("flite", "kal", None, "flite")]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261202)
    for word in WORDS:
        for engine, voice, rate, tag in VOICES:
            x = tts(engine, voice, word, rate)
            x = x / (np.abs(x).max() + 1e-9) * 12000
            pad = lambda: rng.standard_normal(int(0.2 * SR)) * 30  # noqa: E731
            y = np.concatenate([pad(), x + rng.standard_normal(len(x)) * 30, pad()])
            write(os.path.join(OUT, f"{word.replace(' ', '_')}_{tag}.wav"), y)
    print(f"wrote {len(WORDS) * len(VOICES)} clips to {OUT}")


if __name__ == "__main__":
    main()
