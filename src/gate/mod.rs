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
//! use wakeguard::gate::{seconds, ConfirmedMessage, Gate, GateConfig, Input, VoiceMatch};
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
//!     .handle(Input::Answer { yes: 0.95, no: 0.02, cancel: 0.01, voice: VoiceMatch::NotMeasured, started_at: seconds(7.5), at: seconds(8.0) })
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

mod config;
mod confirmed;
mod events;
mod input;
mod state;
#[cfg(test)]
mod tests;

pub use config::{GateConfig, GateConfigError, VoiceCheck, VoiceMatch};
pub use confirmed::ConfirmedMessage;
pub use events::{CancelReason, GateEvent, Readback, Step};
pub use input::{GateStateKind, Input, InputError, InputKind, Rejected};

use std::fmt;
use std::mem;

use crate::audit::{AnswerVerdict, AuditEntry, AuditLog, Decision, MatchVerdict};
use crate::contacts::{ContactBook, ContactError, ContactId, FeatureSeq};
use state::{Flow, GateState, RecordingOutcome};

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

/// Whether `level` is a usable RMS threshold in int16 units: finite and in
/// `(0, 32768]`. The gate's `silence_rms` and the flow's `speech_rms`.
pub(crate) fn rms_level_in_range(level: f32) -> bool {
    level.is_finite() && level > 0.0 && level <= 32768.0
}

/// A voice similarity (or its threshold) must be finite and in `[-1, 1]`.
pub(crate) fn similarity_in_range(value: f32) -> bool {
    value.is_finite() && (-1.0..=1.0).contains(&value)
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

    /// [`Input::Answer`] with its voice [`VoiceMatch::NotMeasured`] (a
    /// "yes" then cancels when [`GateConfig::voice_check`] is on).
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
        self.answer_with_voice(yes, no, cancel, VoiceMatch::NotMeasured, started_at, at)
    }

    /// [`Input::Answer`] with the answer's voice measured against the
    /// request's.
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn answer_with_voice(
        &mut self,
        yes: f32,
        no: f32,
        cancel: f32,
        voice: VoiceMatch,
        started_at: u64,
        at: u64,
    ) -> Result<Step, Rejected> {
        self.handle(Input::Answer {
            yes,
            no,
            cancel,
            voice,
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

    /// [`Input::AudioLost`].
    ///
    /// # Errors
    /// As [`Gate::handle`].
    pub fn audio_lost(&mut self, samples: u64, at: u64) -> Result<Step, Rejected> {
        self.handle(Input::AudioLost { samples, at })
    }

    fn validate(&self, input: &Input<'_>) -> Result<(), InputError> {
        match input {
            Input::Wake { score, .. } => check_score("wake", *score),
            Input::Intent { score, .. } => check_score("intent", *score),
            Input::Answer {
                yes,
                no,
                cancel,
                voice,
                started_at,
                at,
            } => {
                check_score("yes", *yes)?;
                check_score("no", *no)?;
                check_score("cancel", *cancel)?;
                if let VoiceMatch::Similarity(value) = *voice
                    && !similarity_in_range(value)
                {
                    return Err(InputError::InvalidVoiceSimilarity { value });
                }
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
            | Input::Cancel { .. }
            | Input::AudioLost { .. } => Ok(()),
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
                    yes,
                    no,
                    cancel,
                    voice,
                    ..
                },
                GateState::AwaitingReadback { .. },
            ) => {
                self.audit_answer(at, [yes, no, cancel], voice, AnswerVerdict::BeforeReadback);
                self.cancel_request(CancelReason::AnswerBeforeReadback, at, events);
            }
            (
                Input::Answer {
                    yes,
                    no,
                    cancel,
                    voice,
                    started_at,
                    ..
                },
                GateState::AwaitingAnswer { .. },
            ) => return self.on_answer([yes, no, cancel], voice, started_at, at, events),
            (Input::Cancel { .. }, state) if !matches!(state, GateState::Idle) => {
                self.cancel_request(CancelReason::UserCancelled, at, events);
            }
            (Input::AudioLost { samples, .. }, state) => {
                let state = state.kind();
                self.audit.push(at, Decision::AudioLost { samples, state });
                self.cancel_request(CancelReason::AudioLost { samples }, at, events);
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

    fn audit_answer(
        &mut self,
        at: u64,
        [yes, no, cancel]: [f32; 3],
        voice: VoiceMatch,
        verdict: AnswerVerdict,
    ) {
        self.audit.push(
            at,
            Decision::Answer {
                yes,
                no,
                cancel,
                threshold: self.config.confirm_threshold,
                margin_required: self.config.confirm_margin,
                voice,
                voice_check: self.config.voice_check,
                verdict,
            },
        );
    }

    fn classify(&self, yes: f32, no: f32, cancel: f32) -> AnswerVerdict {
        self.config.answer_verdict(yes, no, cancel)
    }

    fn on_answer(
        &mut self,
        scores: [f32; 3],
        voice: VoiceMatch,
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
        let [yes, no, cancel] = scores;
        if started_at < listening_since {
            self.audit_answer(at, scores, voice, AnswerVerdict::BeforeReadback);
            self.cancel_request(CancelReason::AnswerBeforeReadback, at, events);
            return None;
        }
        let verdict = self.classify(yes, no, cancel);
        self.audit_answer(at, scores, voice, verdict);
        let reason = match (verdict, self.config.voice_check.refusal(voice)) {
            (AnswerVerdict::Yes, _) if at > deadline => CancelReason::ConfirmTimeout,
            (AnswerVerdict::Yes, Some(refused)) => refused,
            (AnswerVerdict::Yes, None) if !self.book.is_enrolled(contact) => {
                CancelReason::ContactRemoved
            }
            (AnswerVerdict::Yes, None) if self.book.is_blocked(contact) => {
                CancelReason::BlockedContact
            }
            (AnswerVerdict::Yes, None) => return self.release(yes, no, cancel, at, events),
            (AnswerVerdict::No, _) => CancelReason::AnsweredNo,
            (AnswerVerdict::Cancel, _) => CancelReason::AnsweredCancel,
            (AnswerVerdict::Unclear | AnswerVerdict::BeforeReadback, _) => {
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
