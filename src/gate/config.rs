//! The gate's thresholds and windows, and how an answer is read.

use std::fmt;

use super::{CancelReason, MAX_RECORDING_LIMIT, seconds};
use crate::audit::AnswerVerdict;

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
    /// greater than `wake_threshold`. The second-stage answer head
    /// ([`crate::answer`]) is calibrated to this default and
    /// `confirm_margin`'s (`models/train/answer_head.py`).
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
    /// A 10 ms frame ([`SILENCE_FRAME_SAMPLES`](super::SILENCE_FRAME_SAMPLES)) of `i16` audio whose RMS
    /// value is below this is silence. Default `500.0` (about -36 dBFS).
    /// Must be finite, > 0 and <= 32768.
    pub silence_rms: f32,
    /// No speech at all within this after recording starts cancels the
    /// request. Default 5 s.
    pub no_speech_timeout: u64,
    /// Audit entries kept before the oldest are discarded. Default 4096.
    pub audit_capacity: usize,
    /// Whether a "yes" must be spoken by the voice that made the request
    /// (issue 18). Default [`VoiceCheck::Off`]: the check as measured does
    /// not yet tell voices apart well enough to be on by default (README,
    /// "Who is answering").
    pub voice_check: VoiceCheck,
}

/// Whether the answer's voice must match the request's voice.
///
/// The gate does not listen itself: the caller measures the similarity of
/// the two voices (for example [`crate::voice::VoiceModel`], which
/// [`crate::intent::MessageFlow`] runs when this is `Required`) and hands it
/// over with the answer as a [`VoiceMatch`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum VoiceCheck {
    /// No check. The answer's [`VoiceMatch`] is written to the audit log
    /// when one is given, and never decides anything. The default.
    #[default]
    Off,
    /// A "yes" confirms only when its voice similarity to the request is at
    /// least `min_similarity`; a lower one cancels the request with
    /// [`CancelReason::VoiceMismatch`],
    /// and an answer whose voice was not measured cancels it with
    /// [`CancelReason::VoiceNotMeasured`]:
    /// with the check on, a refused or unknown voice never confirms.
    Required {
        /// Least cosine similarity accepted, finite and in `[-1, 1]`.
        /// [`crate::voice::DEFAULT_MIN_SIMILARITY`] is the threshold measured
        /// to keep 95 % of same-speaker answers.
        min_similarity: f32,
    },
}

impl VoiceCheck {
    /// Why a clear "yes" with this voice measurement may not confirm, or
    /// `None` when it may.
    pub fn refusal(self, voice: VoiceMatch) -> Option<CancelReason> {
        match (self, voice) {
            (Self::Off, _) => None,
            (Self::Required { min_similarity }, VoiceMatch::Similarity(similarity)) => {
                (similarity < min_similarity).then_some(CancelReason::VoiceMismatch {
                    similarity,
                    min_similarity,
                })
            }
            (Self::Required { .. }, VoiceMatch::NotMeasured) => {
                Some(CancelReason::VoiceNotMeasured)
            }
        }
    }
}

/// How alike the answer's voice is to the request's, as measured by the
/// caller.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum VoiceMatch {
    /// Not measured: no voice model, or no speech in the request or the
    /// answer to measure. Cancels a "yes" when [`VoiceCheck::Required`].
    #[default]
    NotMeasured,
    /// Cosine similarity of the two voice vectors, finite and in `[-1, 1]`
    /// (anything else is refused as
    /// [`InputError::InvalidVoiceSimilarity`](super::InputError::InvalidVoiceSimilarity)).
    Similarity(f32),
}

impl fmt::Display for VoiceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMeasured => f.write_str("not measured"),
            Self::Similarity(s) => write!(f, "{s:.3}"),
        }
    }
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
            voice_check: VoiceCheck::Off,
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
    /// [`VoiceCheck::Required`] with a `min_similarity` that is not finite
    /// or not in `[-1, 1]`.
    InvalidVoiceThreshold {
        /// Value given.
        value: f32,
    },
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
            Self::InvalidVoiceThreshold { value } => write!(
                f,
                "voice_check min_similarity {value} must be finite and in [-1, 1]"
            ),
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
    /// in `(0, 32768]`, `audit_capacity > 0`, a required voice similarity
    /// finite in `[-1, 1]`.
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
        if !super::rms_level_in_range(self.silence_rms) {
            return Err(GateConfigError::InvalidSilenceRms {
                value: self.silence_rms,
            });
        }
        if self.audit_capacity == 0 {
            return Err(GateConfigError::ZeroAuditCapacity);
        }
        if let VoiceCheck::Required { min_similarity } = self.voice_check
            && !super::similarity_in_range(min_similarity)
        {
            return Err(GateConfigError::InvalidVoiceThreshold {
                value: min_similarity,
            });
        }
        Ok(())
    }
}
