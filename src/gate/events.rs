//! What the gate decides: events, cancel reasons, the read-back, one step's outcome.

use std::fmt;

use super::{ConfirmedMessage, InputKind};
use crate::contacts::ContactId;

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
    /// A clear "yes" whose voice is less like the request's voice than
    /// [`VoiceCheck::Required`](super::VoiceCheck::Required) asks.
    VoiceMismatch {
        /// The measured similarity.
        similarity: f32,
        /// The least similarity required.
        min_similarity: f32,
    },
    /// A clear "yes" whose voice was not measured, with the voice check on.
    VoiceNotMeasured,
    /// The user or application cancelled.
    UserCancelled,
    /// Audio of the stream was lost during the request ([`Input::AudioLost`](super::Input::AudioLost)):
    /// a request with a hole in it is never sent.
    AudioLost {
        /// Samples lost (at 16 kHz).
        samples: u64,
    },
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
            Self::VoiceMismatch {
                similarity,
                min_similarity,
            } => write!(
                f,
                "answer's voice does not match the request's (similarity {similarity:.3}, \
                 need {min_similarity:.3})"
            ),
            Self::VoiceNotMeasured => write!(f, "answer's voice not measured"),
            Self::UserCancelled => write!(f, "cancelled by user"),
            Self::AudioLost { samples } => {
                write!(f, "audio lost ({})", crate::audit::fmt_samples(*samples))
            }
            Self::InvalidInput => write!(f, "invalid input"),
        }
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
    /// Present this read-back, then report [`Input::ReadbackFinished`](super::Input::ReadbackFinished).
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
