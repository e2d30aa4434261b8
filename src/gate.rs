//! The confirmation gate: an explicit state machine that only releases a
//! recorded message after reading the request back and hearing a clear
//! "yes".
//!
//! # Time
//!
//! All times and windows are counted in **samples at 16 kHz**
//! ([`SAMPLE_RATE_HZ`]) as `u64`; use [`seconds`] and [`millis`] to convert.
//! Inputs carry the time `at` at which they happened; times must never
//! decrease. A deadline is inclusive: an input at exactly `deadline` is in
//! time, one later is not.
//!
//! # Flow
//!
//! ```text
//! Idle --Wake>=wake_threshold--> AwaitingIntent --Intent>=intent_threshold-->
//! AwaitingName --confident Name--> Recording --end silence / cap-->
//! AwaitingReadback --ReadbackFinished--> AwaitingAnswer --clear yes--> dispatch
//! ```
//!
//! Any other outcome — a timeout, a low or ambiguous score, an unclear
//! answer, a contact removed or blocked meanwhile, an invalid input, time
//! going backwards — cancels the request: its audio is overwritten with
//! zeros and the gate returns to `Idle`. There is exactly one answer per
//! request. A [`ConfirmedMessage`] is the only way to get the audio out.
//!
//! ```
//! use wakeguard::contacts::{ContactBook, FeatureSeq};
//! use wakeguard::gate::{seconds, ConfirmedMessage, Gate, GateConfig, Input};
//!
//! // A stand-in for the MFCC frames of a spoken name: 40 frames of 8 values.
//! let mut x = 1u32;
//! let mut next = || {
//!     x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
//!     (x >> 8) as f32 / 16_777_216.0
//! };
//! let name = FeatureSeq::new(8, (0..40 * 8).map(|_| next()).collect()).unwrap();
//! let mut book = ContactBook::new();
//! let alice = book.add("Alice", vec![name.clone()]).unwrap();
//! let mut gate = Gate::new(GateConfig::default(), book).unwrap();
//! gate.handle(Input::Wake { score: 0.9, at: 0 }).unwrap();
//! gate.handle(Input::Intent { score: 0.9, at: seconds(1.0) }).unwrap();
//! gate.handle(Input::Name { spoken: name, at: seconds(2.0) }).unwrap();
//! let speech = vec![3000i16; 16_000];
//! let silence = vec![0i16; 32_000];
//! gate.handle(Input::Audio { samples: &speech, at: seconds(2.0) }).unwrap();
//! let step = gate.handle(Input::Audio { samples: &silence, at: seconds(3.0) }).unwrap();
//! assert!(step.dispatch.is_none());
//! gate.handle(Input::ReadbackFinished { at: seconds(7.0) }).unwrap();
//! let step = gate
//!     .handle(Input::Answer { yes: 0.95, no: 0.02, cancel: 0.01, started_at: seconds(7.5), at: seconds(8.0) })
//!     .unwrap();
//! let message: ConfirmedMessage = step.dispatch.expect("confirmed");
//! assert_eq!(message.recipient(), alice);
//! let sent = message.dispatch(|to, name, audio| (to, name.to_owned(), audio.len()));
//! // 1 s of speech and the 1.2 s of end silence that closed it; the rest of
//! // the silence was wiped, not kept.
//! assert_eq!(sent, (alice, "Alice".to_owned(), 35_200));
//! ```
//!
//! A [`ConfirmedMessage`] cannot be built outside this module:
//!
//! ```compile_fail,E0451
//! use wakeguard::contacts::ContactId;
//! use wakeguard::gate::ConfirmedMessage;
//! let forged = ConfirmedMessage { recipient: ContactId(1), recipient_name: String::new(), audio: vec![] };
//! ```
//!
//! nor cloned:
//!
//! ```compile_fail,E0308
//! use wakeguard::gate::ConfirmedMessage;
//! fn copy_of(m: &ConfirmedMessage) -> ConfirmedMessage {
//!     m.clone()
//! }
//! ```
//!
//! nor used twice:
//!
//! ```compile_fail,E0382
//! use wakeguard::gate::ConfirmedMessage;
//! fn twice(m: ConfirmedMessage) {
//!     m.dispatch(|_, _, _| ());
//!     m.dispatch(|_, _, _| ());
//! }
//! ```

use std::fmt;
use std::mem;

use zeroize::Zeroize;

use crate::audit::{AnswerVerdict, AuditEntry, AuditLog, Decision, MatchVerdict};
use crate::contacts::{ContactBook, ContactError, ContactId, FeatureSeq};

/// Sample rate of every time value, in Hz.
pub const SAMPLE_RATE_HZ: u64 = 16_000;

/// Length of the frames over which silence is judged: 10 ms.
pub const SILENCE_FRAME_SAMPLES: usize = 160;

/// Longest `max_recording` a configuration may ask for: 5 minutes.
pub const MAX_RECORDING_LIMIT: u64 = 300 * SAMPLE_RATE_HZ;

/// Seconds to samples at 16 kHz, rounded to the nearest sample; negative or
/// NaN gives 0, huge values saturate.
pub const fn seconds(s: f32) -> u64 {
    if s > 0.0 {
        (s as f64 * SAMPLE_RATE_HZ as f64 + 0.5) as u64
    } else {
        0
    }
}

/// Milliseconds to samples at 16 kHz (saturating).
pub const fn millis(ms: u64) -> u64 {
    ms.saturating_mul(SAMPLE_RATE_HZ / 1000)
}

/// Every threshold and window of the gate. Windows are in samples at 16 kHz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    /// Wake score needed to start a request. Default `0.5`.
    pub wake_threshold: f32,
    /// "Send a message" intent score needed. Default `0.6`.
    pub intent_threshold: f32,
    /// The intent must arrive within this after the wake. Default 4 s.
    pub intent_window: u64,
    /// The spoken name must arrive within this after the intent. Default 3 s.
    pub name_window: u64,
    /// Minimum name-match score ([`crate::contacts::NameMatch::score`]).
    /// Default `0.67`, with `contact_min_margin` and
    /// [`crate::contacts::MatchConfig::scale`] chosen on two benchmarks:
    /// whole text-to-speech requests (both splits of the recipient protocol,
    /// `models/train/make_name_flows.py`, `calibrate_names.py`) and real
    /// speakers' isolated words (`examples/contact_eval.rs` on Speech
    /// Commands). The rule: no read-back naming a wrong contact on either,
    /// at most 1 % of unenrolled or blocked names reaching a read-back on
    /// either, then the most names read back right. README, "How names are
    /// matched", has the trade-off table.
    pub contact_min_score: f32,
    /// Minimum margin of the best name match over the runner-up. Default
    /// `0.07` (see `contact_min_score`); must be > 0 so that ties are always
    /// refused.
    pub contact_min_margin: f32,
    /// "Yes" score needed to confirm. Default `0.8`; must be strictly
    /// greater than `wake_threshold`.
    pub confirm_threshold: f32,
    /// Required `yes - max(no, cancel)`. Default `0.3`; must be > 0.
    pub confirm_margin: f32,
    /// The answer must come within this after the read-back finished.
    /// Default 6 s.
    pub confirm_window: u64,
    /// The application must report the read-back finished within this after
    /// it was issued. Default 10 s.
    pub readback_window: u64,
    /// Recording cap: never more than this many samples are stored; reaching
    /// it ends the recording. Default 20 s; at most [`MAX_RECORDING_LIMIT`].
    pub max_recording: u64,
    /// Minimum amount of speech in a recording. Default 0.5 s.
    pub min_recording: u64,
    /// This much silence after speech ends the recording. Default 1.2 s.
    pub end_silence: u64,
    /// A 10 ms frame ([`SILENCE_FRAME_SAMPLES`]) of `i16` audio whose RMS
    /// value is below this is silence. Default `500.0` (about -36 dBFS).
    /// Must be finite, > 0 and <= 32768.
    pub silence_rms: f32,
    /// No speech at all within this after recording starts cancels the
    /// request. Default 5 s.
    pub no_speech_timeout: u64,
    /// Audit entries kept before the oldest are discarded. Default 4096.
    pub audit_capacity: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            wake_threshold: 0.5,
            intent_threshold: 0.6,
            intent_window: seconds(4.0),
            name_window: seconds(3.0),
            contact_min_score: 0.67,
            contact_min_margin: 0.07,
            confirm_threshold: 0.8,
            confirm_margin: 0.3,
            confirm_window: seconds(6.0),
            readback_window: seconds(10.0),
            max_recording: seconds(20.0),
            min_recording: seconds(0.5),
            end_silence: seconds(1.2),
            silence_rms: 500.0,
            no_speech_timeout: seconds(5.0),
            audit_capacity: 4096,
        }
    }
}

/// Why a [`GateConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum GateConfigError {
    /// A threshold that must be finite and in `(0, 1]`.
    ScoreOutOfRange {
        /// Field name.
        field: &'static str,
        /// Value given.
        value: f32,
    },
    /// A window of zero samples.
    ZeroWindow {
        /// Field name.
        field: &'static str,
    },
    /// `confirm_threshold <= wake_threshold`.
    ConfirmNotAboveWake {
        /// confirm_threshold.
        confirm: f32,
        /// wake_threshold.
        wake: f32,
    },
    /// `max_recording` above [`MAX_RECORDING_LIMIT`].
    RecordingTooLong {
        /// Value given.
        value: u64,
        /// Limit.
        max: u64,
    },
    /// `min_recording >= max_recording`.
    RecordingBounds {
        /// min_recording.
        min: u64,
        /// max_recording.
        max: u64,
    },
    /// `silence_rms` not finite or not in `(0, 32768]`.
    InvalidSilenceRms {
        /// Value given.
        value: f32,
    },
    /// `audit_capacity == 0`.
    ZeroAuditCapacity,
}

impl fmt::Display for GateConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ScoreOutOfRange { field, value } => {
                write!(f, "{field} = {value} must be finite and in (0, 1]")
            }
            Self::ZeroWindow { field } => write!(f, "{field} must be greater than zero"),
            Self::ConfirmNotAboveWake { confirm, wake } => write!(
                f,
                "confirm_threshold {confirm} must be greater than wake_threshold {wake}"
            ),
            Self::RecordingTooLong { value, max } => {
                write!(
                    f,
                    "max_recording {value} samples exceeds the limit of {max}"
                )
            }
            Self::RecordingBounds { min, max } => write!(
                f,
                "min_recording {min} must be less than max_recording {max}"
            ),
            Self::InvalidSilenceRms { value } => {
                write!(f, "silence_rms {value} must be finite and in (0, 32768]")
            }
            Self::ZeroAuditCapacity => write!(f, "audit_capacity must be greater than zero"),
        }
    }
}

impl std::error::Error for GateConfigError {}

impl GateConfig {
    /// How an answer with these scores is read (timing aside): a label is
    /// confident when its score is at least `confirm_threshold` and exceeds
    /// both others by `confirm_margin`. Anything else is
    /// [`AnswerVerdict::Unclear`], which cancels the request.
    pub fn answer_verdict(&self, yes: f32, no: f32, cancel: f32) -> AnswerVerdict {
        let th = self.confirm_threshold;
        let margin = self.confirm_margin;
        let confident = |s: f32, a: f32, b: f32| s >= th && s - a.max(b) >= margin;
        if confident(yes, no, cancel) {
            AnswerVerdict::Yes
        } else if confident(no, yes, cancel) {
            AnswerVerdict::No
        } else if confident(cancel, yes, no) {
            AnswerVerdict::Cancel
        } else {
            AnswerVerdict::Unclear
        }
    }

    /// Checks every field: thresholds and margins finite in `(0, 1]`,
    /// `confirm_threshold > wake_threshold`, windows > 0,
    /// `min_recording < max_recording <= MAX_RECORDING_LIMIT`, `silence_rms`
    /// in `(0, 32768]`, `audit_capacity > 0`.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), GateConfigError> {
        let scores = [
            ("wake_threshold", self.wake_threshold),
            ("intent_threshold", self.intent_threshold),
            ("contact_min_score", self.contact_min_score),
            ("contact_min_margin", self.contact_min_margin),
            ("confirm_threshold", self.confirm_threshold),
            ("confirm_margin", self.confirm_margin),
        ];
        for (field, value) in scores {
            if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                return Err(GateConfigError::ScoreOutOfRange { field, value });
            }
        }
        if self.confirm_threshold <= self.wake_threshold {
            return Err(GateConfigError::ConfirmNotAboveWake {
                confirm: self.confirm_threshold,
                wake: self.wake_threshold,
            });
        }
        let windows = [
            ("intent_window", self.intent_window),
            ("name_window", self.name_window),
            ("confirm_window", self.confirm_window),
            ("readback_window", self.readback_window),
            ("max_recording", self.max_recording),
            ("min_recording", self.min_recording),
            ("end_silence", self.end_silence),
            ("no_speech_timeout", self.no_speech_timeout),
        ];
        for (field, value) in windows {
            if value == 0 {
                return Err(GateConfigError::ZeroWindow { field });
            }
        }
        if self.max_recording > MAX_RECORDING_LIMIT {
            return Err(GateConfigError::RecordingTooLong {
                value: self.max_recording,
                max: MAX_RECORDING_LIMIT,
            });
        }
        if self.min_recording >= self.max_recording {
            return Err(GateConfigError::RecordingBounds {
                min: self.min_recording,
                max: self.max_recording,
            });
        }
        if !(self.silence_rms.is_finite() && self.silence_rms > 0.0 && self.silence_rms <= 32768.0)
        {
            return Err(GateConfigError::InvalidSilenceRms {
                value: self.silence_rms,
            });
        }
        if self.audit_capacity == 0 {
            return Err(GateConfigError::ZeroAuditCapacity);
        }
        Ok(())
    }
}

/// Why a request was cancelled.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum CancelReason {
    /// No intent within `intent_window` of the wake.
    IntentTimeout,
    /// Intent score below `intent_threshold`.
    IntentBelowThreshold {
        /// The score.
        score: f32,
    },
    /// No name within `name_window` of the intent.
    NameTimeout,
    /// The contact book is empty.
    NoEnrolledContacts,
    /// Best name score below `contact_min_score`.
    UnknownContact {
        /// Best score.
        score: f32,
    },
    /// Best name score not far enough above the runner-up.
    AmbiguousContact {
        /// Best minus runner-up score.
        margin: f32,
    },
    /// The recipient is blocked.
    BlockedContact,
    /// The recipient was removed from the book during the request.
    ContactRemoved,
    /// No speech within `no_speech_timeout` of the recording start.
    NoSpeech,
    /// Less than `min_recording` of speech.
    RecordingTooShort,
    /// The application did not report the read-back finished in time.
    ReadbackTimeout,
    /// `ReadbackFinished` arrived no later than the read-back was issued.
    ReadbackOutOfOrder,
    /// An answer began before the read-back had finished.
    AnswerBeforeReadback,
    /// No answer within `confirm_window`.
    ConfirmTimeout,
    /// Confident "no".
    AnsweredNo,
    /// Confident "cancel".
    AnsweredCancel,
    /// Neither a confident yes nor a confident no/cancel.
    AnswerUnclear {
        /// "yes" score.
        yes: f32,
        /// "no" score.
        no: f32,
        /// "cancel" score.
        cancel: f32,
    },
    /// The user or application cancelled.
    UserCancelled,
    /// An input was rejected (bad score, time going backwards, bad features).
    InvalidInput,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IntentTimeout => write!(f, "no intent in time"),
            Self::IntentBelowThreshold { score } => {
                write!(f, "intent score {score:.3} below threshold")
            }
            Self::NameTimeout => write!(f, "no name in time"),
            Self::NoEnrolledContacts => write!(f, "no enrolled contacts"),
            Self::UnknownContact { score } => {
                write!(f, "name not recognised (best score {score:.3})")
            }
            Self::AmbiguousContact { margin } => {
                write!(f, "name ambiguous (margin {margin:.3})")
            }
            Self::BlockedContact => write!(f, "contact is blocked"),
            Self::ContactRemoved => write!(f, "contact was removed"),
            Self::NoSpeech => write!(f, "no speech"),
            Self::RecordingTooShort => write!(f, "recording too short"),
            Self::ReadbackTimeout => write!(f, "read-back not finished in time"),
            Self::ReadbackOutOfOrder => write!(f, "read-back finished out of order"),
            Self::AnswerBeforeReadback => write!(f, "answer began before the read-back finished"),
            Self::ConfirmTimeout => write!(f, "no answer in time"),
            Self::AnsweredNo => write!(f, "answered no"),
            Self::AnsweredCancel => write!(f, "answered cancel"),
            Self::AnswerUnclear { yes, no, cancel } => write!(
                f,
                "answer unclear (yes {yes:.3}, no {no:.3}, cancel {cancel:.3})"
            ),
            Self::UserCancelled => write!(f, "cancelled by user"),
            Self::InvalidInput => write!(f, "invalid input"),
        }
    }
}

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
        })
    }
}

/// One input to [`Gate::handle`]. Every `at` is in samples at 16 kHz.
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
            | Self::Cancel { at } => at,
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
                started_at,
                at,
            } => write!(
                f,
                "Answer {{ yes: {yes:?}, no: {no:?}, cancel: {cancel:?}, started_at: {started_at}, at: {at} }}"
            ),
            Self::Tick { at } => write!(f, "Tick {{ at: {at} }}"),
            Self::Cancel { at } => write!(f, "Cancel {{ at: {at} }}"),
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

/// Returned by [`Gate::handle`] for a rejected input. The gate has already
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

/// The read-back the application must present before an answer can count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readback {
    /// Intended recipient.
    pub contact: ContactId,
    /// Recipient's display name.
    pub recipient_name: String,
    /// Recorded length in samples.
    pub duration_samples: u64,
    /// Text to speak or show, e.g. "Send a 6-second message to Alice?".
    pub prompt: String,
}

/// Something the gate decided while handling an input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GateEvent {
    /// Wake accepted; a request starts.
    WakeAccepted {
        /// Score.
        score: f32,
    },
    /// Wake below threshold (only reported while idle).
    WakeIgnored {
        /// Score.
        score: f32,
    },
    /// Send-message intent accepted.
    IntentAccepted {
        /// Score.
        score: f32,
    },
    /// Recipient recognised.
    ContactMatched {
        /// Recipient.
        contact: ContactId,
        /// Display name.
        name: String,
        /// Match score.
        score: f32,
        /// Margin over the runner-up.
        margin: f32,
        /// Frames of the spoken name's features where the name was heard
        /// ([`crate::contacts::NameMatch::spoken_frames`]): what follows them
        /// is the start of the message.
        spoken_frames: std::ops::Range<usize>,
    },
    /// Recording started.
    RecordingStarted,
    /// Recording ended.
    RecordingFinished {
        /// Length in samples.
        duration_samples: u64,
    },
    /// Present this read-back, then report [`Input::ReadbackFinished`].
    Readback(Readback),
    /// The read-back finished; the single answer is awaited until `deadline`.
    AnswerWindowOpened {
        /// Last instant (inclusive) for the answer.
        deadline: u64,
    },
    /// Clear yes: the message is in [`Step::dispatch`].
    AnswerAccepted {
        /// "yes" score.
        yes: f32,
        /// yes - max(no, cancel).
        margin: f32,
    },
    /// The request was cancelled and its audio wiped.
    Cancelled {
        /// Why.
        reason: CancelReason,
    },
    /// An input with no meaning in the current state (audio and ticks are
    /// not reported).
    Ignored {
        /// Kind of input.
        input: InputKind,
    },
}

/// Outcome of one accepted input.
#[derive(Debug, Default)]
#[must_use]
pub struct Step {
    /// What happened, in order.
    pub events: Vec<GateEvent>,
    /// A confirmed message, at most once per request.
    pub dispatch: Option<ConfirmedMessage>,
}

/// A message the user confirmed: the only way to obtain recorded audio.
///
/// It cannot be built, cloned or defaulted outside the gate and is consumed
/// when used, so each confirmation sends at most once. Dropping it unused
/// wipes the audio.
pub struct ConfirmedMessage {
    recipient: ContactId,
    recipient_name: String,
    audio: Vec<i16>,
}

impl ConfirmedMessage {
    /// The confirmed recipient.
    pub fn recipient(&self) -> ContactId {
        self.recipient
    }

    /// The recipient's display name, as read back.
    pub fn recipient_name(&self) -> &str {
        &self.recipient_name
    }

    /// Length of the audio in samples at 16 kHz.
    pub fn duration_samples(&self) -> u64 {
        self.audio.len() as u64
    }

    /// Takes the audio. The caller becomes responsible for wiping it.
    pub fn into_audio(mut self) -> Vec<i16> {
        mem::take(&mut self.audio)
    }

    /// Hands recipient, name and audio to `send`, then overwrites the audio
    /// with zeros (also if `send` panics).
    pub fn dispatch<R>(mut self, send: impl FnOnce(ContactId, &str, &[i16]) -> R) -> R {
        let result = send(self.recipient, &self.recipient_name, &self.audio);
        self.audio.zeroize();
        result
    }
}

impl Drop for ConfirmedMessage {
    fn drop(&mut self) {
        self.audio.zeroize();
    }
}

/// Never prints audio samples.
impl fmt::Debug for ConfirmedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmedMessage")
            .field("recipient", &self.recipient)
            .field("recipient_name", &self.recipient_name)
            .field("duration_samples", &self.audio.len())
            .finish()
    }
}

/// The recipient and audio of a request past name matching. Wipes its audio
/// when dropped.
struct Flow {
    contact: ContactId,
    /// [`ContactBook::revision`] of the contact when it was matched.
    revision: Option<u64>,
    name: String,
    audio: Vec<i16>,
}

impl Flow {
    /// Overwrites the audio with zeros and frees it; returns how many
    /// samples were wiped.
    fn wipe(&mut self) -> u64 {
        let n = self.audio.len() as u64;
        self.audio.zeroize();
        self.audio = Vec::new();
        n
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.audio.zeroize();
    }
}

enum GateState {
    Idle,
    AwaitingIntent {
        deadline: u64,
    },
    AwaitingName {
        deadline: u64,
    },
    Recording {
        flow: Flow,
        started_at: u64,
        speech_samples: u64,
        last_speech_end: u64,
        /// Samples of `flow.audio` already judged speech or silence (whole
        /// 10 ms frames from the recording's start).
        judged: usize,
        /// End of the last speech frame, as an index into `flow.audio`.
        speech_end_index: usize,
    },
    AwaitingReadback {
        flow: Flow,
        issued_at: u64,
        deadline: u64,
    },
    AwaitingAnswer {
        flow: Flow,
        listening_since: u64,
        deadline: u64,
    },
}

impl GateState {
    fn kind(&self) -> GateStateKind {
        match self {
            Self::Idle => GateStateKind::Idle,
            Self::AwaitingIntent { .. } => GateStateKind::AwaitingIntent,
            Self::AwaitingName { .. } => GateStateKind::AwaitingName,
            Self::Recording { .. } => GateStateKind::Recording,
            Self::AwaitingReadback { .. } => GateStateKind::AwaitingReadback,
            Self::AwaitingAnswer { .. } => GateStateKind::AwaitingAnswer,
        }
    }

    fn flow(&self) -> Option<&Flow> {
        match self {
            Self::Recording { flow, .. }
            | Self::AwaitingReadback { flow, .. }
            | Self::AwaitingAnswer { flow, .. } => Some(flow),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RecordingOutcome {
    Continue,
    Finish,
    NoSpeech,
}

/// The confirmation gate. Owns the contact book, so removing or blocking a
/// contact through [`Gate::contacts_mut`] is seen by the request in progress
/// at its next input (and always before a dispatch).
pub struct Gate {
    config: GateConfig,
    book: ContactBook,
    state: GateState,
    last_at: u64,
    audit: AuditLog,
    wiped_total: u64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("state", &self.state.kind())
            .field("last_at", &self.last_at)
            .field("buffered_audio_samples", &self.buffered_audio_samples())
            .field("contacts", &self.book)
            .finish()
    }
}

fn valid_score(value: f32) -> bool {
    value.is_finite() && (0.0..=1.0).contains(&value)
}

fn check_score(field: &'static str, value: f32) -> Result<(), InputError> {
    if valid_score(value) {
        Ok(())
    } else {
        Err(InputError::InvalidScore { field, value })
    }
}

/// `value >= threshold`, false for NaN (so a negation fails closed).
fn at_least(value: f32, threshold: f32) -> bool {
    value >= threshold
}

/// RMS of `i16` samples (0 for an empty frame). Shared with the send-message
/// flow's speech segmenter.
pub(crate) fn frame_rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / frame.len() as f64).sqrt()
}

fn indefinite_article(n: u64) -> &'static str {
    let digits = n.to_string();
    if digits.starts_with('8') || n == 11 || n == 18 {
        "an"
    } else {
        "a"
    }
}

/// "Send a 6-second message to Alice?" (whole seconds, at least 1).
fn readback_prompt(duration_samples: u64, name: &str) -> String {
    let secs = ((duration_samples + SAMPLE_RATE_HZ / 2) / SAMPLE_RATE_HZ).max(1);
    format!(
        "Send {} {secs}-second message to {name}?",
        indefinite_article(secs)
    )
}

impl Gate {
    /// A gate in `Idle` with clock 0.
    ///
    /// # Errors
    /// The first problem found by [`GateConfig::validate`].
    pub fn new(config: GateConfig, book: ContactBook) -> Result<Self, GateConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            book,
            state: GateState::Idle,
            last_at: 0,
            audit: AuditLog::new(config.audit_capacity),
            wiped_total: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Current state.
    pub fn state(&self) -> GateStateKind {
        self.state.kind()
    }

    /// The intended recipient of the request in progress, once matched.
    pub fn pending_recipient(&self) -> Option<ContactId> {
        self.state.flow().map(|f| f.contact)
    }

    /// Latest time seen (0 before any input).
    pub fn now(&self) -> u64 {
        self.last_at
    }

    /// The contact book.
    pub fn contacts(&self) -> &ContactBook {
        &self.book
    }

    /// The contact book, for adding, removing, blocking. A request whose
    /// recipient is removed or blocked is cancelled at the next input and
    /// can never be confirmed, even if the block is lifted before that
    /// input.
    pub fn contacts_mut(&mut self) -> &mut ContactBook {
        &mut self.book
    }

    /// Audio samples held for the request in progress (0 unless recording or
    /// awaiting the read-back or the answer).
    pub fn buffered_audio_samples(&self) -> usize {
        self.state.flow().map_or(0, |f| f.audio.len())
    }

    /// Samples overwritten with zeros by cancellations since creation.
    pub fn wiped_samples_total(&self) -> u64 {
        self.wiped_total
    }

    /// Audit entries held, oldest first.
    pub fn audit(&self) -> &[AuditEntry] {
        self.audit.entries()
    }

    /// Takes the held audit entries.
    pub fn drain_audit(&mut self) -> Vec<AuditEntry> {
        self.audit.drain()
    }

    /// Audit entries discarded because the log was full.
    pub fn audit_dropped(&self) -> u64 {
        self.audit.dropped()
    }

    /// Handles one input.
    ///
    /// Order: the time is checked (never backwards) and the input validated;
    /// the clock moves to `at`; a recipient removed or blocked meanwhile
    /// cancels the request; expired deadlines are applied; then the input
    /// acts on the resulting state.
    ///
    /// # Errors
    /// [`Rejected`] for time going backwards, a NaN/infinite/out-of-range
    /// score, an answer starting after it ended, or name features of the
    /// wrong dimension or length. The request in progress, if any, is
    /// cancelled with [`CancelReason::InvalidInput`] and its audio wiped.
    pub fn handle(&mut self, input: Input<'_>) -> Result<Step, Rejected> {
        let at = input.at();
        if at < self.last_at {
            return Err(self.reject(InputError::TimeWentBackwards {
                at,
                last: self.last_at,
            }));
        }
        if let Err(error) = self.validate(&input) {
            return Err(self.reject(error));
        }
        self.last_at = at;
        let mut events = Vec::new();
        self.recheck_recipient(at, &mut events);
        self.expire(at, &mut events);
        let dispatch = self.apply(input, at, &mut events);
        Ok(Step { events, dispatch })
    }

    /// [`Input::Wake`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn wake(&mut self, score: f32, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Wake { score, at })
    }

    /// [`Input::Intent`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn intent(&mut self, score: f32, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Intent { score, at })
    }

    /// [`Input::Name`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn name(&mut self, spoken: FeatureSeq, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Name { spoken, at })
    }

    /// [`Input::Audio`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn audio(&mut self, samples: &[i16], at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Audio { samples, at })
    }

    /// [`Input::ReadbackFinished`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn readback_finished(&mut self, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::ReadbackFinished { at })
    }

    /// [`Input::Answer`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn answer(
        &mut self,
        yes: f32,
        no: f32,
        cancel: f32,
        started_at: u64,
        at: u64,
    ) -> Result<Step, Rejected> {
        self.handle(Input::Answer {
            yes,
            no,
            cancel,
            started_at,
            at,
        })
    }

    /// [`Input::Tick`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn tick(&mut self, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Tick { at })
    }

    /// [`Input::Cancel`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn cancel(&mut self, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::Cancel { at })
    }

    fn validate(&self, input: &Input<'_>) -> Result<(), InputError> {
        match input {
            Input::Wake { score, .. } => check_score("wake", *score),
            Input::Intent { score, .. } => check_score("intent", *score),
            Input::Answer {
                yes,
                no,
                cancel,
                started_at,
                at,
            } => {
                check_score("yes", *yes)?;
                check_score("no", *no)?;
                check_score("cancel", *cancel)?;
                if started_at > at {
                    return Err(InputError::AnswerStartsAfterEnd {
                        started_at: *started_at,
                        at: *at,
                    });
                }
                Ok(())
            }
            Input::Name { spoken, .. } => self.book.check_query(spoken).map_err(InputError::Name),
            Input::Audio { .. }
            | Input::ReadbackFinished { .. }
            | Input::Tick { .. }
            | Input::Cancel { .. } => Ok(()),
        }
    }

    fn reject(&mut self, error: InputError) -> Rejected {
        let at = self.last_at;
        self.audit.push(
            at,
            Decision::InputRejected {
                error: error.clone(),
            },
        );
        let mut events = Vec::new();
        self.cancel_request(CancelReason::InvalidInput, at, &mut events);
        Rejected { error, events }
    }

    /// Cancels the request in progress, if any: wipes its audio, records the
    /// reason, returns to `Idle`.
    fn cancel_request(&mut self, reason: CancelReason, at: u64, events: &mut Vec<GateEvent>) {
        let old = mem::replace(&mut self.state, GateState::Idle);
        if matches!(old, GateState::Idle) {
            return;
        }
        let wiped = match old {
            GateState::Recording { mut flow, .. }
            | GateState::AwaitingReadback { mut flow, .. }
            | GateState::AwaitingAnswer { mut flow, .. } => flow.wipe(),
            GateState::Idle | GateState::AwaitingIntent { .. } | GateState::AwaitingName { .. } => {
                0
            }
        };
        self.wiped_total += wiped;
        self.audit.push(
            at,
            Decision::Cancelled {
                reason,
                wiped_samples: wiped,
            },
        );
        events.push(GateEvent::Cancelled { reason });
    }

    fn ignore(&mut self, input: InputKind, at: u64, events: &mut Vec<GateEvent>) {
        if matches!(input, InputKind::Audio | InputKind::Tick) {
            return;
        }
        self.audit.push(
            at,
            Decision::InputIgnored {
                input,
                state: self.state.kind(),
            },
        );
        events.push(GateEvent::Ignored { input });
    }

    fn recheck_recipient(&mut self, at: u64, events: &mut Vec<GateEvent>) {
        let Some((contact, revision)) = self.state.flow().map(|f| (f.contact, f.revision)) else {
            return;
        };
        if !self.book.is_enrolled(contact) {
            self.cancel_request(CancelReason::ContactRemoved, at, events);
        } else if self.book.is_blocked(contact) || self.book.revision(contact) != revision {
            // Blocked now, or blocked (and unblocked) since the match.
            self.cancel_request(CancelReason::BlockedContact, at, events);
        }
    }

    fn expire(&mut self, now: u64, events: &mut Vec<GateEvent>) {
        let cfg = self.config;
        let expired = match &self.state {
            GateState::Idle => None,
            GateState::AwaitingIntent { deadline } => {
                (now > *deadline).then_some(CancelReason::IntentTimeout)
            }
            GateState::AwaitingName { deadline } => {
                (now > *deadline).then_some(CancelReason::NameTimeout)
            }
            GateState::Recording {
                started_at,
                speech_samples,
                last_speech_end,
                ..
            } => {
                let outcome = if *speech_samples == 0 {
                    if now.saturating_sub(*started_at) >= cfg.no_speech_timeout {
                        RecordingOutcome::NoSpeech
                    } else {
                        RecordingOutcome::Continue
                    }
                } else if now.saturating_sub(*last_speech_end) >= cfg.end_silence
                    || now.saturating_sub(*started_at) >= cfg.max_recording
                {
                    RecordingOutcome::Finish
                } else {
                    RecordingOutcome::Continue
                };
                match outcome {
                    RecordingOutcome::Continue => None,
                    RecordingOutcome::NoSpeech => Some(CancelReason::NoSpeech),
                    RecordingOutcome::Finish => {
                        self.finish_recording(now, events);
                        None
                    }
                }
            }
            GateState::AwaitingReadback { deadline, .. } => {
                (now > *deadline).then_some(CancelReason::ReadbackTimeout)
            }
            GateState::AwaitingAnswer { deadline, .. } => {
                (now > *deadline).then_some(CancelReason::ConfirmTimeout)
            }
        };
        if let Some(reason) = expired {
            self.cancel_request(reason, now, events);
        }
    }

    fn apply(
        &mut self,
        input: Input<'_>,
        at: u64,
        events: &mut Vec<GateEvent>,
    ) -> Option<ConfirmedMessage> {
        let kind = input.kind();
        let cfg = self.config;
        match (input, &self.state) {
            (Input::Wake { score, .. }, GateState::Idle) => {
                if score >= cfg.wake_threshold {
                    self.audit.push(
                        at,
                        Decision::WakeAccepted {
                            score,
                            threshold: cfg.wake_threshold,
                        },
                    );
                    events.push(GateEvent::WakeAccepted { score });
                    self.state = GateState::AwaitingIntent {
                        deadline: at.saturating_add(cfg.intent_window),
                    };
                } else {
                    self.audit.push(
                        at,
                        Decision::WakeIgnored {
                            score,
                            threshold: cfg.wake_threshold,
                        },
                    );
                    events.push(GateEvent::WakeIgnored { score });
                }
            }
            (Input::Intent { score, .. }, GateState::AwaitingIntent { .. }) => {
                if score >= cfg.intent_threshold {
                    self.audit.push(
                        at,
                        Decision::IntentAccepted {
                            score,
                            threshold: cfg.intent_threshold,
                        },
                    );
                    events.push(GateEvent::IntentAccepted { score });
                    self.state = GateState::AwaitingName {
                        deadline: at.saturating_add(cfg.name_window),
                    };
                } else {
                    self.audit.push(
                        at,
                        Decision::IntentRejected {
                            score,
                            threshold: cfg.intent_threshold,
                        },
                    );
                    self.cancel_request(CancelReason::IntentBelowThreshold { score }, at, events);
                }
            }
            (Input::Name { spoken, .. }, GateState::AwaitingName { .. }) => {
                self.on_name(&spoken, at, events);
            }
            (Input::Audio { samples, .. }, GateState::Recording { .. }) => {
                self.on_audio(samples, at, events);
            }
            (Input::ReadbackFinished { .. }, GateState::AwaitingReadback { issued_at, .. }) => {
                if at > *issued_at {
                    let deadline = at.saturating_add(cfg.confirm_window);
                    match mem::replace(&mut self.state, GateState::Idle) {
                        GateState::AwaitingReadback { flow, .. } => {
                            self.state = GateState::AwaitingAnswer {
                                flow,
                                listening_since: at,
                                deadline,
                            };
                            self.audit.push(
                                at,
                                Decision::ReadbackFinished {
                                    answer_deadline: deadline,
                                },
                            );
                            events.push(GateEvent::AnswerWindowOpened { deadline });
                        }
                        other => self.state = other,
                    }
                } else {
                    self.cancel_request(CancelReason::ReadbackOutOfOrder, at, events);
                }
            }
            (
                Input::Answer {
                    yes, no, cancel, ..
                },
                GateState::AwaitingReadback { .. },
            ) => {
                self.audit_answer(at, yes, no, cancel, AnswerVerdict::BeforeReadback);
                self.cancel_request(CancelReason::AnswerBeforeReadback, at, events);
            }
            (
                Input::Answer {
                    yes,
                    no,
                    cancel,
                    started_at,
                    ..
                },
                GateState::AwaitingAnswer { .. },
            ) => return self.on_answer(yes, no, cancel, started_at, at, events),
            (Input::Cancel { .. }, state) if !matches!(state, GateState::Idle) => {
                self.cancel_request(CancelReason::UserCancelled, at, events);
            }
            _ => self.ignore(kind, at, events),
        }
        None
    }

    fn on_name(&mut self, spoken: &FeatureSeq, at: u64, events: &mut Vec<GateEvent>) {
        let cfg = self.config;
        let m = match self.book.match_spoken(spoken) {
            Ok(m) => m,
            Err(ContactError::NoContacts) => {
                self.cancel_request(CancelReason::NoEnrolledContacts, at, events);
                return;
            }
            Err(_) => {
                // Unreachable after validation; fail closed regardless.
                self.cancel_request(CancelReason::InvalidInput, at, events);
                return;
            }
        };
        let (verdict, reason) = if !at_least(m.score, cfg.contact_min_score) {
            (
                MatchVerdict::Unknown,
                Some(CancelReason::UnknownContact { score: m.score }),
            )
        } else if !at_least(m.margin, cfg.contact_min_margin) {
            (
                MatchVerdict::Ambiguous,
                Some(CancelReason::AmbiguousContact { margin: m.margin }),
            )
        } else if !self.book.is_enrolled(m.best) || self.book.is_blocked(m.best) {
            (MatchVerdict::Blocked, Some(CancelReason::BlockedContact))
        } else {
            (MatchVerdict::Accepted, None)
        };
        self.audit.push(
            at,
            Decision::ContactMatch {
                best: m.best,
                score: m.score,
                runner_up: m.runner_up,
                margin: m.margin,
                min_score: cfg.contact_min_score,
                min_margin: cfg.contact_min_margin,
                verdict,
            },
        );
        if let Some(reason) = reason {
            self.cancel_request(reason, at, events);
            return;
        }
        let name = self
            .book
            .display_name(m.best)
            .unwrap_or_default()
            .to_owned();
        events.push(GateEvent::ContactMatched {
            contact: m.best,
            name: name.clone(),
            score: m.score,
            margin: m.margin,
            spoken_frames: m.spoken_frames.clone(),
        });
        self.audit
            .push(at, Decision::RecordingStarted { contact: m.best });
        events.push(GateEvent::RecordingStarted);
        // Allocated once at full size so the buffer never reallocates (which
        // would leave unwiped copies of the audio behind).
        let audio = Vec::with_capacity(cfg.max_recording as usize);
        self.state = GateState::Recording {
            flow: Flow {
                contact: m.best,
                revision: self.book.revision(m.best),
                name,
                audio,
            },
            started_at: at,
            speech_samples: 0,
            last_speech_end: at,
            judged: 0,
            speech_end_index: 0,
        };
    }

    fn on_audio(&mut self, samples: &[i16], at: u64, events: &mut Vec<GateEvent>) {
        let cfg = self.config;
        let GateState::Recording {
            flow,
            speech_samples,
            last_speech_end,
            judged,
            speech_end_index,
            ..
        } = &mut self.state
        else {
            return;
        };
        let max = cfg.max_recording as usize;
        let before = flow.audio.len();
        let room = max.saturating_sub(before);
        flow.audio
            .extend_from_slice(&samples[..samples.len().min(room)]);
        // Whole 10 ms frames on a grid anchored at the recording's first
        // sample, each followed by the end checks: the recording ends at the
        // same sample however the audio was split into calls.
        let mut outcome = RecordingOutcome::Continue;
        while *judged + SILENCE_FRAME_SAMPLES <= flow.audio.len() {
            let frame = &flow.audio[*judged..*judged + SILENCE_FRAME_SAMPLES];
            *judged += SILENCE_FRAME_SAMPLES;
            // every frame completed now ends inside this call's samples
            let frame_end = at.saturating_add((*judged - before) as u64);
            if frame_rms(frame) >= f64::from(cfg.silence_rms) {
                *speech_samples += SILENCE_FRAME_SAMPLES as u64;
                *last_speech_end = frame_end;
                *speech_end_index = *judged;
            }
            // Lengths are counted in recorded samples, not in input time
            // stamps, which depend on how the caller chunks its audio.
            outcome = if *judged >= max {
                RecordingOutcome::Finish
            } else if *speech_samples > 0 {
                if (*judged - *speech_end_index) as u64 >= cfg.end_silence {
                    RecordingOutcome::Finish
                } else {
                    RecordingOutcome::Continue
                }
            } else if *judged as u64 >= cfg.no_speech_timeout {
                RecordingOutcome::NoSpeech
            } else {
                RecordingOutcome::Continue
            };
            if outcome != RecordingOutcome::Continue {
                // Drop what came after the end, wiped first: the buffer never
                // holds audio that is not part of the message.
                flow.audio[*judged..].fill(0);
                flow.audio.truncate(*judged);
                break;
            }
        }
        if outcome == RecordingOutcome::Continue && flow.audio.len() >= max {
            outcome = RecordingOutcome::Finish; // the cap ends inside a frame
        }
        match outcome {
            RecordingOutcome::Continue => {}
            // decisions are stamped with the input's time, like every other
            RecordingOutcome::Finish => self.finish_recording(at, events),
            RecordingOutcome::NoSpeech => self.cancel_request(CancelReason::NoSpeech, at, events),
        }
    }

    fn finish_recording(&mut self, at: u64, events: &mut Vec<GateEvent>) {
        let speech = match &self.state {
            GateState::Recording { speech_samples, .. } => *speech_samples,
            _ => return,
        };
        if speech < self.config.min_recording {
            self.cancel_request(CancelReason::RecordingTooShort, at, events);
            return;
        }
        let flow = match mem::replace(&mut self.state, GateState::Idle) {
            GateState::Recording { flow, .. } => flow,
            other => {
                self.state = other;
                return;
            }
        };
        let duration_samples = flow.audio.len() as u64;
        self.audit.push(
            at,
            Decision::RecordingFinished {
                duration_samples,
                speech_samples: speech,
            },
        );
        events.push(GateEvent::RecordingFinished { duration_samples });
        let readback = Readback {
            contact: flow.contact,
            recipient_name: flow.name.clone(),
            duration_samples,
            prompt: readback_prompt(duration_samples, &flow.name),
        };
        self.audit.push(
            at,
            Decision::ReadbackIssued {
                contact: flow.contact,
                duration_samples,
                prompt: readback.prompt.clone(),
            },
        );
        events.push(GateEvent::Readback(readback));
        self.state = GateState::AwaitingReadback {
            flow,
            issued_at: at,
            deadline: at.saturating_add(self.config.readback_window),
        };
    }

    fn audit_answer(&mut self, at: u64, yes: f32, no: f32, cancel: f32, verdict: AnswerVerdict) {
        self.audit.push(
            at,
            Decision::Answer {
                yes,
                no,
                cancel,
                threshold: self.config.confirm_threshold,
                margin_required: self.config.confirm_margin,
                verdict,
            },
        );
    }

    fn classify(&self, yes: f32, no: f32, cancel: f32) -> AnswerVerdict {
        self.config.answer_verdict(yes, no, cancel)
    }

    fn on_answer(
        &mut self,
        yes: f32,
        no: f32,
        cancel: f32,
        started_at: u64,
        at: u64,
        events: &mut Vec<GateEvent>,
    ) -> Option<ConfirmedMessage> {
        let (listening_since, deadline, contact) = match &self.state {
            GateState::AwaitingAnswer {
                flow,
                listening_since,
                deadline,
            } => (*listening_since, *deadline, flow.contact),
            _ => return None,
        };
        if started_at < listening_since {
            self.audit_answer(at, yes, no, cancel, AnswerVerdict::BeforeReadback);
            self.cancel_request(CancelReason::AnswerBeforeReadback, at, events);
            return None;
        }
        let verdict = self.classify(yes, no, cancel);
        self.audit_answer(at, yes, no, cancel, verdict);
        let reason = match verdict {
            AnswerVerdict::Yes if at > deadline => CancelReason::ConfirmTimeout,
            AnswerVerdict::Yes if !self.book.is_enrolled(contact) => CancelReason::ContactRemoved,
            AnswerVerdict::Yes if self.book.is_blocked(contact) => CancelReason::BlockedContact,
            AnswerVerdict::Yes => return self.release(yes, no, cancel, at, events),
            AnswerVerdict::No => CancelReason::AnsweredNo,
            AnswerVerdict::Cancel => CancelReason::AnsweredCancel,
            AnswerVerdict::Unclear | AnswerVerdict::BeforeReadback => {
                CancelReason::AnswerUnclear { yes, no, cancel }
            }
        };
        self.cancel_request(reason, at, events);
        None
    }

    /// Builds the one [`ConfirmedMessage`] of this request.
    fn release(
        &mut self,
        yes: f32,
        no: f32,
        cancel: f32,
        at: u64,
        events: &mut Vec<GateEvent>,
    ) -> Option<ConfirmedMessage> {
        let mut flow = match mem::replace(&mut self.state, GateState::Idle) {
            GateState::AwaitingAnswer { flow, .. } => flow,
            other => {
                self.state = other;
                return None;
            }
        };
        let message = ConfirmedMessage {
            recipient: flow.contact,
            recipient_name: mem::take(&mut flow.name),
            audio: mem::take(&mut flow.audio),
        };
        events.push(GateEvent::AnswerAccepted {
            yes,
            margin: yes - no.max(cancel),
        });
        self.audit.push(
            at,
            Decision::Dispatched {
                contact: message.recipient,
                duration_samples: message.duration_samples(),
            },
        );
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_helpers() {
        assert_eq!(seconds(1.0), 16_000);
        assert_eq!(seconds(1.2), 19_200);
        assert_eq!(seconds(0.5), 8_000);
        assert_eq!(seconds(-1.0), 0);
        assert_eq!(seconds(f32::NAN), 0);
        assert_eq!(millis(10), 160);
        assert_eq!(millis(u64::MAX), u64::MAX);
    }

    #[test]
    fn prompt_wording() {
        assert_eq!(
            readback_prompt(seconds(6.0), "Alice"),
            "Send a 6-second message to Alice?"
        );
        assert_eq!(
            readback_prompt(seconds(8.2), "Bob"),
            "Send an 8-second message to Bob?"
        );
        assert_eq!(
            readback_prompt(seconds(11.0), "Bob"),
            "Send an 11-second message to Bob?"
        );
        assert_eq!(
            readback_prompt(seconds(0.3), "Bob"),
            "Send a 1-second message to Bob?"
        );
        assert_eq!(
            readback_prompt(seconds(20.0), "Bob"),
            "Send a 20-second message to Bob?"
        );
    }

    #[test]
    fn default_config_is_valid_and_checks_fire() {
        GateConfig::default().validate().unwrap();
        let bad = |f: fn(&mut GateConfig)| {
            let mut c = GateConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.confirm_threshold = 0.5),
            GateConfigError::ConfirmNotAboveWake {
                confirm: 0.5,
                wake: 0.5
            }
        );
        assert!(matches!(
            bad(|c| c.wake_threshold = f32::NAN),
            GateConfigError::ScoreOutOfRange {
                field: "wake_threshold",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.intent_threshold = 1.5),
            GateConfigError::ScoreOutOfRange {
                field: "intent_threshold",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.contact_min_margin = 0.0),
            GateConfigError::ScoreOutOfRange {
                field: "contact_min_margin",
                ..
            }
        ));
        assert_eq!(
            bad(|c| c.confirm_window = 0),
            GateConfigError::ZeroWindow {
                field: "confirm_window"
            }
        );
        assert!(matches!(
            bad(|c| c.max_recording = u64::MAX),
            GateConfigError::RecordingTooLong { .. }
        ));
        assert!(matches!(
            bad(|c| c.min_recording = c.max_recording),
            GateConfigError::RecordingBounds { .. }
        ));
        assert!(matches!(
            bad(|c| c.silence_rms = -1.0),
            GateConfigError::InvalidSilenceRms { .. }
        ));
        assert_eq!(
            bad(|c| c.audit_capacity = 0),
            GateConfigError::ZeroAuditCapacity
        );
        assert!(
            Gate::new(
                GateConfig {
                    confirm_threshold: 0.4,
                    ..GateConfig::default()
                },
                ContactBook::new()
            )
            .is_err()
        );
    }

    #[test]
    fn flow_wipe_zeroes_and_counts() {
        let mut flow = Flow {
            contact: ContactId(1),
            revision: Some(0),
            name: "A".into(),
            audio: vec![7; 100],
        };
        assert_eq!(flow.wipe(), 100);
        assert!(flow.audio.is_empty());
        assert_eq!(flow.audio.capacity(), 0);
    }

    #[test]
    fn answer_classification() {
        let gate = Gate::new(GateConfig::default(), ContactBook::new()).unwrap();
        assert_eq!(gate.classify(0.95, 0.1, 0.0), AnswerVerdict::Yes);
        assert_eq!(gate.classify(0.6, 0.1, 0.0), AnswerVerdict::Unclear);
        assert_eq!(gate.classify(0.85, 0.7, 0.0), AnswerVerdict::Unclear);
        assert_eq!(gate.classify(0.9, 0.0, 0.7), AnswerVerdict::Unclear);
        assert_eq!(gate.classify(0.05, 0.9, 0.1), AnswerVerdict::No);
        assert_eq!(gate.classify(0.05, 0.1, 0.9), AnswerVerdict::Cancel);
        assert_eq!(gate.classify(0.0, 0.0, 0.0), AnswerVerdict::Unclear);
    }

    #[test]
    fn silence_detection_by_frames() {
        assert_eq!(frame_rms(&[]), 0.0);
        assert!((frame_rms(&[3, -4, 3, -4]) - 3.535_533_9).abs() < 1e-6);
    }
}
