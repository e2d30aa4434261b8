#!/usr/bin/env python3
"""Regenerate testdata/names/: requests whose name runs straight into the message.

    apt-get install espeak-ng sox
    python3 testdata/make_names.py

One espeak-ng voice (en-us+m3). Contacts Priya, Jonathan and Margaret, each
enrolled from the name said on its own (Priya twice at two rates, the others
once), and three requests, each a wake word followed by the request with no
pause at all between the name and the message, then 0.3 s of quiet (the
tests feed silence after it until the recording ends and the read-back is
issued):

    joined_priya.wav     "Send a message to Priya I am running late"  -> read back to Priya
    joined_margaret.wav  "Send a message to Margaret the train is delayed" -> Margaret
    unenrolled_mary.wav  "Send a message to Marion see you at the station": Marion
                         is not enrolled (Margaret and Priya are) -> refused before the read-back

All speech is text-to-speech over quiet seeded noise; nothing comes from the corpora.
"""
import os

import numpy as np

from make_clips import noise, tts, write

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "names")
VOICE = "en-us+m3"


def say(text, rate=150):
    return tts("espeak", VOICE, text, rate)


def quiet(x):
    return x + noise(len(x) / 16000)


def main():
    enroll = {"Priya": [150, 175], "Jonathan": [150], "Margaret": [160]}
    lines = []
    for name, rates in enroll.items():
        files = []
        for k, rate in enumerate(rates):
            fname = f"enroll_{name.lower()}_{k + 1}.wav"
            write(os.path.join(OUT, fname), np.concatenate([noise(0.2), quiet(say(f"{name}.", rate)), noise(0.2)]))
            files.append(f'"{fname}"')
        lines.append(f'[[contact]]\nname = "{name}"\nsamples = [{", ".join(files)}]\n')
    with open(os.path.join(OUT, "contacts.toml"), "w") as f:
        f.write("\n".join(lines))
    for fname, text in [
        ("joined_priya.wav", "Send a message to Priya I am running late."),
        ("joined_margaret.wav", "Send a message to Margaret the train is delayed."),
        ("unenrolled_marion.wav", "Send a message to Marion see you at the station."),
    ]:
        x = np.concatenate([noise(0.5), quiet(say("Smart mirror.")), noise(0.5),
                            quiet(say(text, 165)), noise(0.3)])
        write(os.path.join(OUT, fname), x)


if __name__ == "__main__":
    main()
