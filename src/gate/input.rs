//! What the gate is told: inputs, their kinds, and why one was refused.

use std::fmt;

use super::{GateEvent, VoiceMatch};
use crate::contacts::{ContactError, FeatureSeq};

/// Coarse state of the gate, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateStateKind {
    /// Waiting for a wake word.
    Idle,
    /// Wake accepted, waiting for the send-message intent.
    AwaitingIntent,
    /// Intent accepted, waiting for the recipient's name.
    AwaitingName,
    /// Recording the message.
    Recording,
    /// Read-back issued, waiting for the application to finish it.
    AwaitingReadback,
    /// Listening for the single yes/no answer.
    AwaitingAnswer,
}

impl fmt::Display for GateStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "idle",
            Self::AwaitingIntent => "awaiting-intent",
            Self::AwaitingName => "awaiting-name",
            Self::Recording => "recording",
            Self::AwaitingReadback => "awaiting-readback",
            Self::AwaitingAnswer => "awaiting-answer",
        })
    }
}

/// Kind of an [`Input`], without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// [`Input::Wake`].
    Wake,
    /// [`Input::Intent`].
    Intent,
    /// [`Input::Name`].
    Name,
    /// [`Input::Audio`].
    Audio,
    /// [`Input::ReadbackFinished`].
    ReadbackFinished,
    /// [`Input::Answer`].
    Answer,
    /// [`Input::Tick`].
    Tick,
    /// [`Input::Cancel`].
    Cancel,
    /// [`Input::AudioLost`].
    AudioLost,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wake => "wake",
            Self::Intent => "intent",
            Self::Name => "name",
            Self::Audio => "audio",
            Self::ReadbackFinished => "readback-finished",
            Self::Answer => "answer",
            Self::Tick => "tick",
            Self::Cancel => "cancel",
            Self::AudioLost => "audio-lost",
        })
    }
}

/// One input to [`Gate::handle`](super::Gate::handle). Every `at` is in samples at 16 kHz.
#[derive(Clone)]
pub enum Input<'a> {
    /// The wake-word detector fired with this score.
    Wake {
        /// Wake score in `[0, 1]`.
        score: f32,
        /// Time.
        at: u64,
    },
    /// Score of the "send a message" intent for the utterance after the wake.
    Intent {
        /// Intent score in `[0, 1]`.
        score: f32,
        /// Time.
        at: u64,
    },
    /// Features of the spoken recipient name.
    Name {
        /// The name segment's features.
        spoken: FeatureSeq,
        /// Time.
        at: u64,
    },
    /// Message audio. Only used while recording; elsewhere it just advances
    /// time.
    Audio {
        /// 16 kHz mono samples.
        samples: &'a [i16],
        /// Time of the first sample.
        at: u64,
    },
    /// The application has finished speaking or showing the read-back
    /// prompt. Answers count only after this.
    ReadbackFinished {
        /// Time.
        at: u64,
    },
    /// Scores of the single answer utterance.
    Answer {
        /// "yes" score in `[0, 1]`.
        yes: f32,
        /// "no" score in `[0, 1]`.
        no: f32,
        /// "cancel" score in `[0, 1]`.
        cancel: f32,
        /// How alike the answer's voice is to the request's
        /// ([`GateConfig::voice_check`](super::GateConfig::voice_check)).
        voice: VoiceMatch,
        /// When the utterance began (must be <= `at`). An utterance that
        /// began before the read-back finished never confirms.
        started_at: u64,
        /// When the scores were produced.
        at: u64,
    },
    /// Time passes (timeouts).
    Tick {
        /// Time.
        at: u64,
    },
    /// The user or the application cancels.
    Cancel {
        /// Time.
        at: u64,
    },
    /// Audio of the stream was lost (an overrun of the capture ring, a
    /// device error): the stream has a hole of about `samples` samples at 16
    /// kHz before `at`. Always written to the audit log; a request in
    /// progress is cancelled ([`CancelReason::AudioLost`](super::CancelReason::AudioLost)),
    /// since its intent, name, recording or answer may have fallen into the hole.
    AudioLost {
        /// How many samples were lost (at 16 kHz; 0 if unknown).
        samples: u64,
        /// Time.
        at: u64,
    },
}

impl Input<'_> {
    /// The input's time.
    pub fn at(&self) -> u64 {
        match *self {
            Self::Wake { at, .. }
            | Self::Intent { at, .. }
            | Self::Name { at, .. }
            | Self::Audio { at, .. }
            | Self::ReadbackFinished { at }
            | Self::Answer { at, .. }
            | Self::Tick { at }
            | Self::Cancel { at }
            | Self::AudioLost { at, .. } => at,
        }
    }

    /// The input's kind.
    pub fn kind(&self) -> InputKind {
        match self {
            Self::Wake { .. } => InputKind::Wake,
            Self::Intent { .. } => InputKind::Intent,
            Self::Name { .. } => InputKind::Name,
            Self::Audio { .. } => InputKind::Audio,
            Self::ReadbackFinished { .. } => InputKind::ReadbackFinished,
            Self::Answer { .. } => InputKind::Answer,
            Self::Tick { .. } => InputKind::Tick,
            Self::Cancel { .. } => InputKind::Cancel,
            Self::AudioLost { .. } => InputKind::AudioLost,
        }
    }
}

/// Never prints audio samples.
impl fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wake { score, at } => write!(f, "Wake {{ score: {score:?}, at: {at} }}"),
            Self::Intent { score, at } => write!(f, "Intent {{ score: {score:?}, at: {at} }}"),
            Self::Name { spoken, at } => write!(
                f,
                "Name {{ frames: {}, dim: {}, at: {at} }}",
                spoken.frames(),
                spoken.dim()
            ),
            Self::Audio { samples, at } => {
                write!(f, "Audio {{ len: {}, at: {at} }}", samples.len())
            }
            Self::ReadbackFinished { at } => write!(f, "ReadbackFinished {{ at: {at} }}"),
            Self::Answer {
                yes,
                no,
                cancel,
                voice,
                started_at,
                at,
            } => write!(
                f,
                "Answer {{ yes: {yes:?}, no: {no:?}, cancel: {cancel:?}, voice: {voice:?}, started_at: {started_at}, at: {at} }}"
            ),
            Self::Tick { at } => write!(f, "Tick {{ at: {at} }}"),
            Self::Cancel { at } => write!(f, "Cancel {{ at: {at} }}"),
            Self::AudioLost { samples, at } => {
                write!(f, "AudioLost {{ samples: {samples}, at: {at} }}")
            }
        }
    }
}

/// Why an input was rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InputError {
    /// `at` is earlier than the latest time the gate has seen.
    TimeWentBackwards {
        /// The input's time.
        at: u64,
        /// Latest time seen.
        last: u64,
    },
    /// A score that is NaN, infinite or outside `[0, 1]`.
    InvalidScore {
        /// Which score.
        field: &'static str,
        /// Its value.
        value: f32,
    },
    /// A voice similarity that is NaN, infinite or outside `[-1, 1]`.
    InvalidVoiceSimilarity {
        /// Its value.
        value: f32,
    },
    /// An answer whose `started_at` is after its `at`.
    AnswerStartsAfterEnd {
        /// started_at.
        started_at: u64,
        /// at.
        at: u64,
    },
    /// Name features unusable with the contact book.
    Name(ContactError),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimeWentBackwards { at, last } => {
                write!(f, "time went backwards: {at} is before {last}")
            }
            Self::InvalidScore { field, value } => {
                write!(f, "{field} score {value} is not a finite value in [0, 1]")
            }
            Self::InvalidVoiceSimilarity { value } => {
                write!(
                    f,
                    "voice similarity {value} is not a finite value in [-1, 1]"
                )
            }
            Self::AnswerStartsAfterEnd { started_at, at } => {
                write!(f, "answer starts at {started_at}, after its end {at}")
            }
            Self::Name(e) => write!(f, "unusable name features: {e}"),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Name(e) => Some(e),
            _ => None,
        }
    }
}

/// Returned by [`Gate::handle`](super::Gate::handle) for a rejected input. The gate has already
/// failed closed: any request in progress is cancelled (see `events`) and its
/// audio wiped; the gate's clock did not move.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What was wrong with the input.
    pub error: InputError,
    /// Events caused by the rejection (a `Cancelled` if a request was in
    /// progress).
    pub events: Vec<GateEvent>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input rejected: {}", self.error)
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
