"""Type stubs of the wakeguard package (the native module wakeguard._native)."""

from os import PathLike
from typing import Any, Callable, TypeVar, Union

import numpy as np
import numpy.typing as npt

__version__: str
SAMPLE_RATE: int
"""The sample rate of every input and output, 16000 Hz."""

Samples = Union[npt.NDArray[np.int16], npt.NDArray[np.float32]]
"""16 kHz mono audio: int16, or float32 in [-1, 1]. Any buffer of these types."""

StrPath = Union[str, "PathLike[str]"]
T = TypeVar("T")

class WakeguardError(Exception):
    """Any error of the wakeguard library."""

class WavError(WakeguardError):
    """A WAV file could not be read or is not in a supported format."""

class ModelError(WakeguardError):
    """A model could not be loaded or run."""

class ContactsError(WakeguardError):
    """A contacts file or a contact operation was refused."""

class StateError(WakeguardError):
    """The call does not fit the object's state (push after finish, nothing to dispatch)."""

def read_wav(path: StrPath) -> npt.NDArray[np.float32]:
    """Read a WAV file as 16 kHz mono float32 samples in [-1, 1].

    Other rates are resampled and channels averaged; at most one hour.
    Raises WavError for a missing, truncated or unsupported file."""

def spoken_duration(prompt: str) -> int:
    """Samples (16 kHz) that speaking `prompt` takes: 0.3 s plus 65 ms per character."""

class Detection:
    """One keyword detection."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float:
        """Peak smoothed score in [0, 1]."""
    @property
    def start_sample(self) -> int:
        """Estimated first sample of the keyword, from the stream's start."""
    @property
    def end_sample(self) -> int:
        """Sample at which the detector fired, just after the keyword's end."""
    @property
    def start(self) -> float:
        """start_sample in seconds."""
    @property
    def end(self) -> float:
        """end_sample in seconds."""

class Detector:
    """A streaming keyword detector over the embedded model (model=None) or an
    ONNX model file with wakeguard metadata. Events do not depend on how the
    audio is cut into chunks. Methods release the GIL while they compute; one
    call runs at a time per detector."""

    def __init__(self, model: StrPath | None = None) -> None: ...
    def push(self, samples: Samples) -> list[Detection]:
        """Push a chunk of any length; returns the detections it completed.
        NaN or infinite samples raise ValueError and the chunk is not used."""
    def finish(self) -> list[Detection]:
        """End the stream; returns a detection still in progress. push() then
        raises StateError until reset()."""
    def reset(self) -> None:
        """Start a new stream (sample counter 0), keeping the thresholds."""
    @property
    def labels(self) -> list[str]:
        """The model's keyword labels."""
    @property
    def samples_consumed(self) -> int: ...
    @property
    def thresholds(self) -> dict[str, float]:
        """A copy of the per-label thresholds. Assigning a dict sets the labels
        it names (all checked first: KeyError / ValueError change nothing)."""
    @thresholds.setter
    def thresholds(self, values: dict[str, float]) -> None: ...
    def threshold(self, label: str) -> float: ...
    def set_threshold(self, label: str, value: float) -> None:
        """Set one label's threshold, in (0, 1]."""

class MessageFlow:
    """The send-message flow over one audio stream: wake word, intent, spoken
    name, recording, read-back, answer, confirmation.

    `contacts` is a CONTACTS.toml file (or None: add contacts with
    add_contact). With simulate_readback=True each read-back prompt is taken
    to play for spoken_duration(prompt) samples of the pushed audio and then
    to finish, as `send_message` does on a recording; otherwise call
    readback_finished() when the device has finished speaking the prompt.

    Events are dicts with the fields of send_message's JSON lines, e.g.
    {"event": "readback", "time": 6.5, "contact": "Alice", "prompt": "...",
    "duration": 3.21}. A confirmed recording is only reachable through
    dispatch(), once."""

    def __init__(
        self,
        contacts: StrPath | None = None,
        model: StrPath | None = None,
        simulate_readback: bool = False,
    ) -> None: ...
    def push(self, samples: Samples) -> list[dict[str, Any]]:
        """Push microphone audio; returns the events it produced."""
    def readback_finished(self) -> list[dict[str, Any]]:
        """The read-back prompt has finished playing: the answer window opens
        now (StateError with simulate_readback=True)."""
    def drain(self, max_seconds: float = 30.0) -> list[dict[str, Any]]:
        """End of a recording (simulate_readback=True only): silence until the
        request in progress is decided."""
    def cancel(self) -> list[dict[str, Any]]:
        """Cancel the request in progress; its audio is wiped."""
    def audio_lost(self, samples: int) -> list[dict[str, Any]]:
        """About `samples` samples (16 kHz) were lost before the next push (a
        capture overrun): audited; a request in progress is cancelled."""
    @property
    def pending(self) -> int:
        """Confirmed messages waiting for dispatch()."""
    @property
    def busy(self) -> bool:
        """Whether a request is in progress."""
    @property
    def now(self) -> int:
        """Samples pushed so far (with drain's silence)."""
    def dispatch(self, callback: Callable[[str, int, npt.NDArray[np.int16]], T]) -> T:
        """Hand the oldest confirmed message to callback(recipient, contact_id,
        audio) once and return its result; the library's copy of the audio is
        then wiped. StateError if none is waiting."""
    def dispatched_line(self, recipient: str, contact_id: int, samples: int) -> str:
        """The JSON line send_message prints for a dispatch now."""
    def add_contact(self, name: str, recordings: list[Samples]) -> int:
        """Enroll a contact from 1 to 5 recordings of the user saying the name;
        returns its id."""
    def block_contact(self, contact_id: int, blocked: bool = True) -> None: ...
    def remove_contact(self, contact_id: int) -> None:
        """Remove a contact and wipe its enrollment."""
    @property
    def contacts(self) -> list[tuple[int, str, bool]]:
        """(contact_id, name, blocked) of every enrolled contact."""
    def audit(self) -> list[str]:
        """The gate's audit log: decisions with scores and reasons, never audio."""
