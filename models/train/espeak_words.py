#!/usr/bin/env python3
"""Word start times of an espeak-ng rendering, from libespeak-ng's word events.

    python3 espeak_words.py VOICE WPM PITCH TEXT    ->  one "char_offset seconds" line per word

Run as its own process on purpose: espeak-ng keeps random state (voice
flutter) across syntheses in one process, so a fresh process reproduces the
espeak-ng CLI (same -v/-s/-p) exactly, and the result is repeatable.
No numpy import, so it starts fast.
"""
import ctypes as C
import sys


class Event(C.Structure):
    _fields_ = [("type", C.c_int), ("unique_identifier", C.c_uint), ("text_position", C.c_int),
                ("length", C.c_int), ("audio_position", C.c_int), ("sample", C.c_int),
                ("user_data", C.c_void_p), ("id", C.c_char * 8)]


def word_starts(voice, wpm, pitch, text):
    lib = C.CDLL("libespeak-ng.so.1")
    words = []
    cbtype = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_int, C.POINTER(Event))

    def cb(wav, n, ev):
        i = 0
        while ev[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            if ev[i].type == 1:  # espeakEVENT_WORD
                words.append((ev[i].text_position - 1, ev[i].sample))
            i += 1
        return 0

    sr = lib.espeak_Initialize(2, 0, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
    if sr <= 0:
        raise SystemExit("espeak_Initialize failed")
    keep = cbtype(cb)
    lib.espeak_SetSynthCallback(keep)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise SystemExit(f"unknown espeak voice {voice}")
    lib.espeak_SetParameter(1, int(wpm), 0)  # espeakRATE
    lib.espeak_SetParameter(3, int(pitch), 0)  # espeakPITCH
    b = text.encode()
    if lib.espeak_Synth(b, len(b) + 1, 0, 1, 0, 0, None, None) != 0:
        raise SystemExit("espeak_Synth failed")
    lib.espeak_Synchronize()
    return [(pos, s / sr) for pos, s in words]


if __name__ == "__main__":
    v, wpm, p, text = sys.argv[1], sys.argv[2], sys.argv[3], " ".join(sys.argv[4:])
    for pos, t in word_starts(v, wpm, p, text):
        print(pos, f"{t:.6f}")
