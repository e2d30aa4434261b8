"""wakeguard: on-device wake word and "send a message to X" detection that
never sends a recording without a read-back and a clear "yes".

Audio is 16 kHz mono, as NumPy ``int16`` arrays or ``float32`` arrays in
[-1, 1] (any buffer of those types works). Every error is a Python
exception carrying the library's message: :class:`WakeguardError` and its
subclasses, ``ValueError`` for bad samples or thresholds, ``KeyError`` for
an unknown label.

>>> import wakeguard
>>> det = wakeguard.Detector()
>>> audio = wakeguard.read_wav("testdata/demo.wav")
>>> [d.label for d in det.push(audio) + det.finish()]
['computer', 'send_message', 'yes']
"""

from ._native import (
    SAMPLE_RATE,
    ContactsError,
    Detection,
    Detector,
    MessageFlow,
    ModelError,
    StateError,
    WakeguardError,
    WavError,
    __version__,
    read_wav,
    spoken_duration,
)

__all__ = [
    "SAMPLE_RATE",
    "ContactsError",
    "Detection",
    "Detector",
    "MessageFlow",
    "ModelError",
    "StateError",
    "WakeguardError",
    "WavError",
    "__version__",
    "read_wav",
    "spoken_duration",
]
