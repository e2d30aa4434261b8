"""Find where a spoken prefix ends inside a longer utterance of the same voice.

Used by synth.py for "send a message to <name>": the prefix text ("send a
message to") is rendered alone with the same voice and parameters, and the
prefix clip is aligned to the start of the full clip by open-end DTW on
log-mel features.  The full-clip frame matched to the prefix's last speech
frame is the prefix end.  Both inputs are the final 16 kHz files, cut to
their VAD speech region.
"""
from __future__ import annotations

import numpy as np

SR = 16000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40


def _mel_fb(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=60.0, fmax=7600.0):
    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel2hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    mels = np.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2)
    bins = np.floor((n_fft + 1) * mel2hz(mels) / sr).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1))
    for i in range(n_mels):
        a, b, c = bins[i], bins[i + 1], bins[i + 2]
        for k in range(a, b):
            fb[i, k] = (k - a) / max(1, b - a)
        for k in range(b, c):
            fb[i, k] = (c - k) / max(1, c - b)
    return fb


_FB = _mel_fb()
_WINDOW = np.hanning(WIN)


def logmel(x: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) log-mel of a 16 kHz float signal, per-utterance mean removed."""
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n = 1 + (len(x) - WIN) // HOP
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _WINDOW, n=N_FFT)) ** 2
    m = np.log(spec @ _FB.T + 1e-8)
    return m - m.mean(axis=0, keepdims=True)


def prefix_end(prefix: np.ndarray, full: np.ndarray) -> float:
    """Seconds into `full` where the speech of `prefix` ends.

    Both are 16 kHz float arrays already cut to their speech region; the
    result is relative to the start of `full`.
    """
    a, b = logmel(prefix), logmel(full)
    # cosine distance
    an = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-8)
    bn = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-8)
    cost = 1.0 - an @ bn.T  # (Na, Nb)
    na, nb = cost.shape
    D = np.full((na, nb), np.inf)
    L = np.zeros((na, nb))  # path length, for length-normalised open end
    D[0, 0] = cost[0, 0]
    L[0, 0] = 1
    for j in range(1, nb):  # prefix must start at the start of full
        D[0, j] = D[0, j - 1] + cost[0, j]
        L[0, j] = L[0, j - 1] + 1
    for i in range(1, na):
        # vectorised over j is awkward for the horizontal step; loop j (sizes are ~200 x 300)
        Di, Dp, Li, Lp, ci = D[i], D[i - 1], L[i], L[i - 1], cost[i]
        Di[0] = Dp[0] + ci[0]
        Li[0] = Lp[0] + 1
        for j in range(1, nb):
            d_diag, d_up, d_left = Dp[j - 1], Dp[j], Di[j - 1]
            if d_diag <= d_up and d_diag <= d_left:
                Di[j], Li[j] = d_diag + ci[j], Lp[j - 1] + 1
            elif d_up <= d_left:
                Di[j], Li[j] = d_up + ci[j], Lp[j] + 1
            else:
                Di[j], Li[j] = d_left + ci[j], Li[j - 1] + 1
    score = D[-1] / L[-1]
    # the match must cover at least half the prefix's length
    lo = max(1, na // 2)
    j = lo + int(np.argmin(score[lo:]))
    return (j * HOP + WIN) / SR
