//! Audit log of every decision the gate takes, with the scores behind it.
//!
//! Entries never contain audio. Times are in samples at 16 kHz (see
//! [`crate::gate::SAMPLE_RATE_HZ`]).

use std::fmt;

use crate::contacts::ContactId;
use crate::gate::{CancelReason, GateStateKind, InputError, InputKind, VoiceCheck, VoiceMatch};

/// Outcome of a spoken-name match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchVerdict {
    /// Confident match to an enrolled, unblocked contact.
    Accepted,
    /// Best score below the minimum.
    Unknown,
    /// Margin to the runner-up below the minimum.
    Ambiguous,
    /// Best match is a blocked contact.
    Blocked,
}

impl fmt::Display for MatchVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Accepted => "accepted",
            Self::Unknown => "unknown",
            Self::Ambiguous => "ambiguous",
            Self::Blocked => "blocked",
        })
    }
}

/// Reading of an answer utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerVerdict {
    /// Confident yes.
    Yes,
    /// Confident no.
    No,
    /// Confident cancel.
    Cancel,
    /// Neither: the request is cancelled.
    Unclear,
    /// The utterance began before the read-back had finished.
    BeforeReadback,
}

impl fmt::Display for AnswerVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Cancel => "cancel",
            Self::Unclear => "unclear",
            Self::BeforeReadback => "before read-back finished",
        })
    }
}

/// One decision of the gate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Wake word accepted: a request starts.
    WakeAccepted {
        /// Wake score.
        score: f32,
        /// Threshold in force.
        threshold: f32,
    },
    /// Wake score below threshold.
    WakeIgnored {
        /// Wake score.
        score: f32,
        /// Threshold in force.
        threshold: f32,
    },
    /// "Send a message" intent accepted.
    IntentAccepted {
        /// Intent score.
        score: f32,
        /// Threshold in force.
        threshold: f32,
    },
    /// Intent score below threshold (the request is cancelled).
    IntentRejected {
        /// Intent score.
        score: f32,
        /// Threshold in force.
        threshold: f32,
    },
    /// Result of matching the spoken name.
    ContactMatch {
        /// Closest contact.
        best: ContactId,
        /// Its score.
        score: f32,
        /// Second closest and its score.
        runner_up: Option<(ContactId, f32)>,
        /// Best minus runner-up score.
        margin: f32,
        /// Minimum score in force.
        min_score: f32,
        /// Minimum margin in force.
        min_margin: f32,
        /// What the gate made of it.
        verdict: MatchVerdict,
    },
    /// Message recording started.
    RecordingStarted {
        /// Intended recipient.
        contact: ContactId,
    },
    /// Message recording ended (by trailing silence or the length cap).
    RecordingFinished {
        /// Recorded length in samples.
        duration_samples: u64,
        /// Samples classified as speech.
        speech_samples: u64,
    },
    /// Read-back prompt handed to the application.
    ReadbackIssued {
        /// Intended recipient.
        contact: ContactId,
        /// Recorded length in samples.
        duration_samples: u64,
        /// The prompt text.
        prompt: String,
    },
    /// The application reported the prompt finished; answers count from now.
    ReadbackFinished {
        /// Last instant (inclusive) an answer is accepted.
        answer_deadline: u64,
    },
    /// An answer utterance was scored.
    Answer {
        /// "yes" score.
        yes: f32,
        /// "no" score.
        no: f32,
        /// "cancel" score.
        cancel: f32,
        /// Confirmation threshold in force.
        threshold: f32,
        /// Required margin of yes over max(no, cancel).
        margin_required: f32,
        /// The answer's voice against the request's.
        voice: VoiceMatch,
        /// The voice check in force.
        voice_check: VoiceCheck,
        /// Reading.
        verdict: AnswerVerdict,
    },
    /// A confirmed message was released for sending.
    Dispatched {
        /// Recipient.
        contact: ContactId,
        /// Length in samples.
        duration_samples: u64,
    },
    /// The request was cancelled and its audio wiped.
    Cancelled {
        /// Why.
        reason: CancelReason,
        /// Audio samples overwritten with zeros.
        wiped_samples: u64,
    },
    /// An input that has no meaning in the current state.
    InputIgnored {
        /// Kind of input.
        input: InputKind,
        /// State it arrived in.
        state: GateStateKind,
    },
    /// Audio of the stream was lost ([`Input::AudioLost`](crate::gate::Input::AudioLost));
    /// a request in progress is cancelled next.
    AudioLost {
        /// Samples lost (at 16 kHz).
        samples: u64,
        /// State the gate was in.
        state: GateStateKind,
    },
    /// An invalid input was rejected (the request, if any, is cancelled).
    InputRejected {
        /// What was wrong.
        error: InputError,
    },
}

/// One audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Gate time of the decision, in samples at 16 kHz.
    pub at: u64,
    /// The decision.
    pub decision: Decision,
}

/// Formats a sample count at 16 kHz as seconds with millisecond precision.
pub(crate) fn fmt_samples(samples: u64) -> String {
    let rate = crate::gate::SAMPLE_RATE_HZ;
    let ms = (samples % rate) * 1000 / rate;
    format!("{}.{:03}s", samples / rate, ms)
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WakeAccepted { score, threshold } => {
                write!(f, "wake accepted (score {score:.3} >= {threshold:.3})")
            }
            Self::WakeIgnored { score, threshold } => {
                write!(f, "wake ignored (score {score:.3} < {threshold:.3})")
            }
            Self::IntentAccepted { score, threshold } => {
                write!(
                    f,
                    "send-message intent accepted (score {score:.3} >= {threshold:.3})"
                )
            }
            Self::IntentRejected { score, threshold } => {
                write!(
                    f,
                    "send-message intent rejected (score {score:.3} < {threshold:.3})"
                )
            }
            Self::ContactMatch {
                best,
                score,
                runner_up,
                margin,
                min_score,
                min_margin,
                verdict,
            } => {
                write!(f, "contact match {verdict}: best {best} score {score:.3}")?;
                match runner_up {
                    Some((id, s)) => write!(f, ", runner-up {id} score {s:.3}")?,
                    None => write!(f, ", no runner-up")?,
                }
                write!(
                    f,
                    ", margin {margin:.3} (need score >= {min_score:.3}, margin >= {min_margin:.3})"
                )
            }
            Self::RecordingStarted { contact } => write!(f, "recording started for {contact}"),
            Self::RecordingFinished {
                duration_samples,
                speech_samples,
            } => write!(
                f,
                "recording finished: {} ({} speech)",
                fmt_samples(*duration_samples),
                fmt_samples(*speech_samples)
            ),
            Self::ReadbackIssued {
                contact,
                duration_samples,
                prompt,
            } => write!(
                f,
                "read-back issued for {contact} ({}): {prompt:?}",
                fmt_samples(*duration_samples)
            ),
            Self::ReadbackFinished { answer_deadline } => write!(
                f,
                "read-back finished; listening for an answer until t={}",
                fmt_samples(*answer_deadline)
            ),
            Self::Answer {
                yes,
                no,
                cancel,
                threshold,
                margin_required,
                voice,
                voice_check,
                verdict,
            } => {
                write!(
                    f,
                    "answer {verdict}: yes {yes:.3} no {no:.3} cancel {cancel:.3} \
                     (need yes >= {threshold:.3} and margin >= {margin_required:.3}); \
                     voice similarity {voice}"
                )?;
                match voice_check {
                    VoiceCheck::Required { min_similarity } => {
                        write!(f, " (need >= {min_similarity:.3})")
                    }
                    VoiceCheck::Off => write!(f, " (not checked)"),
                }
            }
            Self::Dispatched {
                contact,
                duration_samples,
            } => write!(
                f,
                "DISPATCHED confirmed message to {contact} ({})",
                fmt_samples(*duration_samples)
            ),
            Self::Cancelled {
                reason,
                wiped_samples,
            } => write!(
                f,
                "cancelled: {reason}; wiped {wiped_samples} audio samples"
            ),
            Self::InputIgnored { input, state } => {
                write!(f, "ignored {input} input in state {state}")
            }
            Self::AudioLost { samples, state } => {
                write!(f, "audio lost ({}) in state {state}", fmt_samples(*samples))
            }
            Self::InputRejected { error } => write!(f, "rejected input: {error}"),
        }
    }
}

impl fmt::Display for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[t={}] {}", fmt_samples(self.at), self.decision)
    }
}

/// Bounded, append-only record of decisions.
///
/// Holds at most `capacity` entries: when full, the oldest quarter (at least
/// one entry) is discarded and counted in [`AuditLog::dropped`]. Drain it
/// regularly to keep everything.
#[derive(Debug, Clone)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
    capacity: usize,
    dropped: u64,
}

impl AuditLog {
    /// An empty log holding up to `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            entries: Vec::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Appends a decision made at `at`.
    pub fn push(&mut self, at: u64, decision: Decision) {
        if self.entries.len() >= self.capacity {
            let n = (self.capacity / 4).max(1).min(self.entries.len());
            self.entries.drain(..n);
            self.dropped += n as u64;
        }
        self.entries.push(AuditEntry { at, decision });
    }

    /// Entries currently held, oldest first.
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    /// Takes every held entry, oldest first.
    pub fn drain(&mut self) -> Vec<AuditEntry> {
        std::mem::take(&mut self.entries)
    }

    /// Number of held entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Maximum number of held entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries discarded because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_log_drops_oldest_and_counts() {
        let mut log = AuditLog::new(8);
        for i in 0..10u64 {
            log.push(
                i,
                Decision::WakeIgnored {
                    score: 0.1,
                    threshold: 0.5,
                },
            );
        }
        assert!(log.len() <= 8);
        assert_eq!(log.dropped() + log.len() as u64, 10);
        assert_eq!(log.entries().last().unwrap().at, 9);
        assert_eq!(log.entries()[0].at, log.dropped());
        let drained = log.drain();
        assert_eq!(drained.len() as u64 + log.dropped(), 10);
        assert!(log.is_empty());
    }

    #[test]
    fn display_is_one_line() {
        let e = AuditEntry {
            at: 24_000,
            decision: Decision::ContactMatch {
                best: ContactId(2),
                score: 0.8,
                runner_up: Some((ContactId(1), 0.1)),
                margin: 0.7,
                min_score: 0.6,
                min_margin: 0.15,
                verdict: MatchVerdict::Accepted,
            },
        };
        let s = e.to_string();
        assert!(
            s.starts_with("[t=1.500s] contact match accepted: best #2"),
            "{s}"
        );
        assert!(!s.contains('\n'));
        let c = AuditEntry {
            at: 0,
            decision: Decision::Cancelled {
                reason: CancelReason::AnsweredNo,
                wiped_samples: 5,
            },
        };
        assert!(c.to_string().contains("wiped 5 audio samples"));
    }

    #[test]
    fn fmt_samples_rounds_down_to_ms() {
        assert_eq!(fmt_samples(0), "0.000s");
        assert_eq!(fmt_samples(16_000), "1.000s");
        assert_eq!(fmt_samples(16_015), "1.000s");
        assert_eq!(fmt_samples(16_016), "1.001s");
    }
}
