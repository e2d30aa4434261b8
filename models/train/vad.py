"""Energy VAD shared by synth.py and unpack_and_index.py.

Frames: 20 ms, hop 10 ms, RMS in dBFS (DC removed).  Noise floor = 10th
percentile of the clip's frame levels (clamped at -80 dBFS so digital silence
in TTS output does not give -inf).  Threshold = max(floor + rise, loudest
frames (99th pct) - 40 dB), rise = 12 dB, or half the clip's range
(p99 - floor) when that is smaller, but never under 6 dB.  Frames above it form runs; runs shorter
than 50 ms (clicks) are dropped.  speech_start_s = start of the first run,
speech_end_s = end of the last run, seconds from the start of the file.
snr_db (loud frames minus floor) tells how much to trust the result: below
~15 dB (noisy clip, or a clip with no silence around the speech) the bounds
are rough.
"""
from __future__ import annotations

import numpy as np
import soundfile as sf

FRAME_S = 0.020
HOP_S = 0.010


def frame_db(x: np.ndarray, sr: int, frame_s: float = FRAME_S, hop_s: float = HOP_S) -> np.ndarray:
    frame = int(round(frame_s * sr))
    hop = int(round(hop_s * sr))
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    fr = x[idx].astype(np.float64)
    fr = fr - fr.mean(axis=1, keepdims=True)  # ignore DC offset
    rms = np.sqrt(np.mean(fr * fr, axis=1))
    return 20.0 * np.log10(rms + 1e-10)


def energy_vad(
    x: np.ndarray,
    sr: int,
    rise_db: float = 12.0,
    peak_drop_db: float = 40.0,
    floor_min_db: float = -80.0,
    min_run_s: float = 0.05,
):
    """Return (speech_start_s, speech_end_s, snr_db); start/end are None if nothing found.

    x: mono float array in [-1, 1].  snr_db = loud frames (99th pct) minus floor.
    """
    db = frame_db(x, sr)
    floor = max(float(np.percentile(db, 10)), floor_min_db)
    peak = float(np.percentile(db, 99))
    # low-contrast clips (tightly trimmed speech, e.g. fsdd): rise at least 6 dB,
    # at most half the clip's dynamic range
    rise = min(rise_db, max(6.0, (peak - floor) / 2))
    thr = max(floor + rise, peak - peak_drop_db)
    mask = db > thr
    min_run = max(1, int(round(min_run_s / HOP_S)))
    # find runs of True
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)  # exclusive
    keep = (ends - starts) >= min_run
    starts, ends = starts[keep], ends[keep]
    snr = round(peak - floor, 1)
    if len(starts) == 0:
        return None, None, snr
    dur = len(x) / sr
    t0 = starts[0] * HOP_S
    t1 = min(dur, (ends[-1] - 1) * HOP_S + FRAME_S)
    return round(t0, 3), round(t1, 3), snr


def vad_file(path: str):
    """Return (duration_s, speech_start_s, speech_end_s, snr_db) for a WAV file."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    t0, t1, snr = energy_vad(x, sr)
    return round(len(x) / sr, 3), t0, t1, snr
