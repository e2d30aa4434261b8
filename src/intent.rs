//! Stage 5 of the pipeline: "send a message to X" on a live stream.
//!
//! [`MessageFlow`] connects the [`Detector`] to the confirmation [`Gate`]:
//! wake-word events and the `send_message` intent become gate inputs, the
//! spoken name after the intent is cut out with an energy segmenter and
//! matched against the enrolled contacts, the message audio is fed to the
//! gate's recorder, and after the application has presented the read-back
//! the next utterance is scored as the answer from the model's `yes`, `no`
//! and `cancel` posteriors. The gate alone decides; this module only
//! measures and forwards, and every doubt it meets (no name spoken, no
//! answer) is left to the gate's timeouts, which fail closed.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::answer::AnswerScorer;
use crate::contacts::{ContactBook, ContactError, FeatureSeq, MAX_ENROLLMENTS, MIN_ENROLLMENTS};
use crate::detector::{Detection, Detector, DetectorConfig, DetectorSink};
use crate::error::{ConfigError, Error, ModelError};
use crate::features::{MfccPlan, mfcc};
use crate::gate::{
    ConfirmedMessage, Gate, GateConfig, GateEvent, GateStateKind, Input, Rejected, VoiceCheck,
    VoiceMatch, frame_rms, rms_level_in_range,
};
use crate::model::KeywordModel;
use crate::voice::{VoiceModel, VoicePrint};
use zeroize::{Zeroize, Zeroizing};

pub use crate::live::SimulatedDevice;

/// Frame of the speech segmenter: 10 ms at 16 kHz.
const SEG_FRAME: usize = 160;

/// With the voice check on, the request's voice is measured on the audio
/// of this many samples before the spoken name's end (3.8 s, what
/// [`VoiceModel::voice`] reads at most).
pub const REQUEST_VOICE_SPAN: u64 = (crate::voice::MAX_PIECES * crate::voice::MAX_CUT) as u64;

/// Options of the send-message flow (the gate's own thresholds and windows
/// live in [`GateConfig`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Labels that count as the wake word; at least one, each a label of
    /// the model. Default: the six wake words of the bundled model.
    pub wake_labels: Vec<String>,
    /// The gate's thresholds and windows. Default: [`GateConfig::default`].
    pub gate: GateConfig,
    /// Detector options. Default: [`DetectorConfig::default`].
    pub detector: DetectorConfig,
    /// RMS (int16 units) of a 10 ms frame above which it counts as speech
    /// when cutting out the name and the answer. Range: `(0, 32768]`.
    /// Default: 400.0 (about -38 dBFS).
    pub speech_rms: f32,
    /// A pause this long ends the spoken name or the answer. Range:
    /// 10 ms to 5 s. Default: 0.35 s.
    pub segment_pause: u64,
    /// The name is cut at this length. Range: 0.1 s to 10 s. Default: 1.5 s.
    pub max_name: u64,
    /// A pause ends the name only once this much of it (from its first
    /// speech frame) has been heard, so that the tail of "to" followed by a
    /// pause is not taken for the name. Range: 0 to `max_name`.
    /// Default: 0.25 s.
    pub min_name: u64,
    /// Posteriors are still read this long after the answer's last speech
    /// frame (the network fires at the end of a word). Range: 0 to 2 s.
    /// Default: 0.4 s.
    pub answer_tail: u64,
    /// What reads the answer after the read-back. Default:
    /// [`AnswerScoring::SpeechEmbedding`].
    pub answer_scoring: AnswerScoring,
    /// An answer utterance with more speech than this (from its first to
    /// its last speech frame) is not a clear answer: it is handed to the
    /// gate as unclear, which cancels the request. Range: 0.1 s to 10 s.
    /// Default: 1.7 s. (The
    /// second stage reads at most [`crate::answer::MAX_CUT`] samples of an
    /// answer, about its first 1.6 s of speech.)
    pub max_answer: u64,
}

/// 10 ms at 16 kHz, the unit of the duration limits below.
const MS10: u64 = 160;

/// The ranges [`FlowConfig::validate`] enforces, in samples at 16 kHz:
/// `(field, value, min, max)`.
fn duration_ranges(c: &FlowConfig) -> [(&'static str, u64, u64, u64); 6] {
    [
        ("segment_pause", c.segment_pause, MS10, 500 * MS10),
        ("max_name", c.max_name, 10 * MS10, 1_000 * MS10),
        ("min_name", c.min_name, 0, c.max_name),
        ("answer_tail", c.answer_tail, 0, 200 * MS10),
        ("max_answer", c.max_answer, 10 * MS10, 1_000 * MS10),
        // The flow keeps the name window's audio to cut the name from it.
        ("gate.name_window", c.gate.name_window, 1, 6_000 * MS10),
    ]
}

impl FlowConfig {
    /// Checks every option: the ranges given with each field (durations in
    /// samples at 16 kHz; `gate.name_window` at most 60 s, since the flow
    /// keeps that much audio), at least one wake label, and the gate's own
    /// [`GateConfig::validate`]. The detector's options are checked by
    /// [`Detector::new`], the labels against the model by [`MessageFlow::new`].
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.wake_labels.is_empty() {
            return Err(ConfigError::NoWakeLabels);
        }
        if !rms_level_in_range(self.speech_rms) {
            return Err(ConfigError::LevelOutOfRange {
                field: "speech_rms",
                found: self.speech_rms,
            });
        }
        for (field, found, min, max) in duration_ranges(self) {
            if !(min..=max).contains(&found) {
                return Err(ConfigError::DurationOutOfRange {
                    field,
                    found,
                    min,
                    max,
                });
            }
        }
        self.gate.validate().map_err(ConfigError::Gate)
    }
}

/// What reads the answer after the read-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AnswerScoring {
    /// The second stage, [`AnswerScorer::shared_embedded`]: Google's
    /// speech_embedding and a head trained for the answer, run once per
    /// answer utterance. Measured for speakers it never heard in the README
    /// ("The answer"); about 30 ms of CPU per 1 s answer
    /// (`benches/answer.rs`).
    #[default]
    SpeechEmbedding,
    /// The keyword model's own `yes`, `no` and `cancel` posteriors: the
    /// highest smoothed value of each from the answer's first speech to
    /// [`FlowConfig::answer_tail`] after its last. No second model; reads
    /// fewer real "yes" answers right.
    KeywordModel,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            wake_labels: [
                "alexa",
                "computer",
                "jarvis",
                "smart_mirror",
                "snowboy",
                "view_glass",
            ]
            .map(String::from)
            .to_vec(),
            gate: GateConfig::default(),
            detector: DetectorConfig::default(),
            speech_rms: 400.0,
            segment_pause: 5_600,
            max_name: 24_000,
            min_name: 4_000,
            answer_tail: 6_400,
            answer_scoring: AnswerScoring::SpeechEmbedding,
            max_answer: 27_200,
        }
    }
}

/// What happened while a chunk was processed, for the application and the
/// audit trail. Every [`GateEvent`] is forwarded as [`FlowEvent::Gate`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FlowEvent {
    /// A wake word was heard (before the gate's own threshold).
    Wake {
        /// Which wake word.
        label: Arc<str>,
        /// Its score.
        score: f32,
        /// Sample at which it ended.
        at: u64,
    },
    /// The `send_message` intent was heard.
    Intent {
        /// Its score.
        score: f32,
        /// Sample at which it ended.
        at: u64,
    },
    /// The spoken name was cut out of the stream and handed to the gate.
    NameSegment {
        /// First sample of the name.
        start: u64,
        /// Sample after its end.
        end: u64,
    },
    /// The answer utterance was scored and handed to the gate.
    Answer {
        /// Its "yes" score (see `scoring`).
        yes: f32,
        /// Its "no" score.
        no: f32,
        /// Its "cancel" score.
        cancel: f32,
        /// Its voice against the request's ([`VoiceMatch::NotMeasured`]
        /// unless the gate's `voice_check` is on).
        voice: VoiceMatch,
        /// First sample of the answer.
        start: u64,
        /// Sample after the last speech frame of the answer.
        end: u64,
        /// What scored it: the second stage's probabilities, or the keyword
        /// model's best smoothed posteriors. All three are 0 when the
        /// answer was too long ([`FlowConfig::max_answer`]) or the second
        /// stage found no speech in it.
        scoring: AnswerScoring,
    },
    /// A decision of the gate.
    Gate {
        /// Sample time of the decision.
        at: u64,
        /// The decision.
        event: GateEvent,
    },
    /// The gate refused an input (e.g. a score out of range); the request
    /// was cancelled by the gate.
    Refused {
        /// Sample time.
        at: u64,
        /// Why.
        error: String,
    },
    /// Audio was lost before this point of the stream (a capture overrun,
    /// see [`MessageFlow::audio_lost`]); a request in progress is cancelled
    /// (the [`FlowEvent::Gate`] event that follows).
    AudioLost {
        /// Sample time (the stream position where the loss was noticed).
        at: u64,
        /// Samples lost (at 16 kHz).
        samples: u64,
    },
    /// The application's voice could not present the read-back
    /// ([`crate::live::Voice`]); the request is cancelled.
    VoiceFailed {
        /// Sample time.
        at: u64,
        /// Why.
        error: String,
    },
}

/// Cutting one utterance (name or answer) out of the stream.
#[derive(Debug, Clone, PartialEq)]
enum Capture {
    /// Not listening for an utterance.
    Off,
    /// Waiting for the name to start / collecting it. `from`: first sample
    /// that may belong to the name.
    Name {
        from: u64,
        speech: Option<(u64, u64)>,
    },
    /// Waiting for the answer / collecting it, with the best posteriors
    /// seen. `from`: the first sample not yet scanned, on the stream's grid
    /// of 10 ms frames (a multiple of [`SEG_FRAME`]), so that where the
    /// answer is found does not depend on how the audio was chunked.
    /// `opened`: where the answer window opened (nothing before it is ever
    /// scored). `armed`: a quiet frame has been heard since; until then
    /// speech is not an answer (it began before the window opened: the tail
    /// of the device's own prompt, or an answer spoken over it).
    Answer {
        from: u64,
        opened: u64,
        armed: bool,
        speech: Option<(u64, u64)>,
        best: [f32; 3],
    },
}

/// The send-message flow over one audio stream. See the module docs.
#[derive(Debug)]
pub struct MessageFlow {
    config: FlowConfig,
    detector: Detector,
    gate: Gate,
    plan: Arc<MfccPlan>,
    /// The most recent audio, for cutting out the name after the fact.
    history: VecDeque<i16>,
    history_start: u64,
    history_cap: usize,
    capture: Capture,
    /// Audio already handed to the gate's recorder, up to this sample.
    recorded_to: u64,
    wake: Vec<bool>,
    intent: usize,
    answer_labels: [usize; 3],
    /// The second-stage answer scorer, when `config.answer_scoring` asks for it.
    answer_scorer: Option<AnswerScorer>,
    /// The voice check: the voice model, when `config.gate.voice_check` is
    /// on, and the voice of the request in progress.
    voice: VoiceState,
    now: u64,
}

/// The flow's part of the voice check (issue 18).
#[derive(Debug)]
enum VoiceState {
    /// The check is off: no voice is measured.
    Off,
    /// The check is on.
    On {
        model: Box<VoiceModel>,
        /// The voice of the request in progress, measured on the speech up
        /// to the spoken name's end; `None` before that, or when it held no
        /// speech. Wiped when the request ends.
        request: Option<VoicePrint>,
    },
}

/// Collects detector output during one push.
struct Collect<'a> {
    detections: &'a mut Vec<Detection>,
    frames: &'a mut Vec<(u64, [f32; 3])>,
    answer_labels: [usize; 3],
    want_frames: bool,
}

impl DetectorSink for Collect<'_> {
    fn detection(&mut self, detection: Detection) {
        self.detections.push(detection);
    }
    fn frame(&mut self, end: u64, smoothed: &[f32]) {
        if self.want_frames {
            let [y, n, c] = self.answer_labels;
            self.frames
                .push((end, [smoothed[y], smoothed[n], smoothed[c]]));
        }
    }
}

/// The part of `pcm` that [`name_features`] keeps: from 3 frames before the
/// first 10 ms frame at or above `speech_rms` to 3 frames after the last.
fn speech_bounds(pcm: &[i16], speech_rms: f32) -> Option<(usize, usize)> {
    let frames: Vec<&[i16]> = pcm.chunks(SEG_FRAME).collect();
    let first = frames
        .iter()
        .position(|f| frame_rms(f) >= f64::from(speech_rms))?;
    let last = frames
        .iter()
        .rposition(|f| frame_rms(f) >= f64::from(speech_rms))?;
    let lo = first.saturating_sub(3) * SEG_FRAME;
    let hi = ((last + 4) * SEG_FRAME).min(pcm.len());
    Some((lo, hi))
}

/// MFCC features (the model's front end) of a spoken name, with leading and
/// trailing silence (10 ms frames below `speech_rms`) trimmed. Used both to
/// enroll contacts and to match the name spoken in a request.
pub fn name_features(
    plan: &Arc<MfccPlan>,
    pcm: &[i16],
    speech_rms: f32,
) -> Result<FeatureSeq, Error> {
    trimmed_name_features(plan, pcm, speech_rms).map(|(features, _)| features)
}

/// [`name_features`] and the sample of `pcm` at which its first frame
/// starts.
fn trimmed_name_features(
    plan: &Arc<MfccPlan>,
    pcm: &[i16],
    speech_rms: f32,
) -> Result<(FeatureSeq, usize), Error> {
    let Some((lo, hi)) = speech_bounds(pcm, speech_rms) else {
        return Err(Error::Shape {
            what: "spoken name (no frame above the speech level)",
            expected: 1,
            found: 0,
        });
    };
    let mut seg = pcm[lo..hi].to_vec();
    let need = plan.frame_len() + 2 * plan.hop_len();
    if seg.len() < need {
        seg.resize(need, 0);
    }
    let feats = mfcc(plan, &seg)?;
    let features = FeatureSeq::new(feats.dim, feats.data)
        .map_err(|e| Error::from(ModelError::BadMetadata(format!("name features: {e}"))))?;
    Ok((features, lo))
}

/// Longest name recording [`enroll_from_wavs`] reads, in seconds: a longer
/// file is [`crate::WavError::TooLong`], read no further.
pub const MAX_ENROLLMENT_SECONDS: u32 = 10;

/// Enroll one contact from recordings of the user saying the name (WAV
/// files, 16 kHz mono, at most [`MAX_ENROLLMENT_SECONDS`] each; 1 to 5 of
/// them). Returns the new contact's id. Errors name the file that could not
/// be used.
pub fn enroll_from_wavs(
    book: &mut ContactBook,
    plan: &Arc<MfccPlan>,
    name: &str,
    recordings: &[impl AsRef<std::path::Path>],
    speech_rms: f32,
) -> Result<crate::contacts::ContactId, Error> {
    // Refuse a count the book would refuse before reading any recording.
    let count = recordings.len();
    check_enrollment_count(count)?;
    let mut seqs = Vec::with_capacity(count);
    for path in recordings {
        let path = path.as_ref();
        let options = crate::audio::WavOptions {
            max_seconds: MAX_ENROLLMENT_SECONDS,
            ..Default::default()
        };
        let audio = crate::audio::read_wav_with(path, options)?;
        let seq = name_features(plan, &audio.to_i16(), speech_rms).map_err(|e| Error::Wav {
            path: Some(path.to_path_buf()),
            kind: crate::error::WavError::Malformed(match e {
                Error::Shape { .. } => "no speech found in the name recording",
                _ => "name features could not be computed",
            }),
        })?;
        seqs.push(seq);
    }
    Ok(book.add(name, seqs)?)
}

/// Refuses a number of name recordings the contact book would refuse
/// (1 to [`MAX_ENROLLMENTS`]), before any of them is read or processed.
///
/// # Errors
/// [`ContactError::TooFewEnrollments`] or [`ContactError::TooManyEnrollments`].
pub fn check_enrollment_count(count: usize) -> Result<(), Error> {
    if count < MIN_ENROLLMENTS {
        return Err(ContactError::TooFewEnrollments {
            min: MIN_ENROLLMENTS,
            found: count,
        }
        .into());
    }
    if count > MAX_ENROLLMENTS {
        return Err(ContactError::TooManyEnrollments {
            max: MAX_ENROLLMENTS,
            found: count,
        }
        .into());
    }
    Ok(())
}

/// Enroll one contact from 1 to 5 recordings of the user saying the name,
/// as 16 kHz mono PCM already in memory (what the C and Python bindings
/// hand over). Returns the new contact's id.
///
/// # Errors
/// The count as [`check_enrollment_count`]; a recording without speech as
/// [`name_features`]; the book's own refusals (a duplicate name, …).
pub fn enroll_from_pcm(
    book: &mut ContactBook,
    plan: &Arc<MfccPlan>,
    name: &str,
    recordings: &[&[i16]],
    speech_rms: f32,
) -> Result<crate::contacts::ContactId, Error> {
    check_enrollment_count(recordings.len())?;
    let seqs = recordings
        .iter()
        .map(|pcm| name_features(plan, pcm, speech_rms))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(book.add(name, seqs)?)
}

/// The recent audio the flow keeps (to cut out names and answers) is
/// wiped when the flow is dropped, like a cancelled request's recording.
impl Drop for MessageFlow {
    fn drop(&mut self) {
        let (a, b) = self.history.as_mut_slices();
        a.zeroize();
        b.zeroize();
    }
}

impl MessageFlow {
    /// A flow over `model` with `contacts` enrolled.
    ///
    /// # Errors
    /// [`Error::Config`] when `config` fails [`FlowConfig::validate`] or the
    /// detector's options are invalid; [`Error::Model`] when the model lacks
    /// a wake label, `send_message`, `yes`, `no` or `cancel`, or the answer
    /// scorer cannot be loaded.
    pub fn new(
        model: Arc<KeywordModel>,
        contacts: ContactBook,
        config: FlowConfig,
    ) -> Result<Self, Error> {
        config.validate()?;
        let meta = model.metadata();
        let wake = meta
            .labels
            .iter()
            .map(|l| config.wake_labels.iter().any(|w| w == l))
            .collect();
        for w in &config.wake_labels {
            meta.label_index(w)?;
        }
        let intent = meta.label_index("send_message")?;
        let answer_labels = [
            meta.label_index("yes")?,
            meta.label_index("no")?,
            meta.label_index("cancel")?,
        ];
        let plan = Arc::new(MfccPlan::new(meta.front_end()?)?);
        let detector = Detector::new(model, config.detector.clone())?;
        let gate = Gate::new(config.gate, contacts).map_err(ConfigError::Gate)?;
        let answer_scorer = match config.answer_scoring {
            AnswerScoring::SpeechEmbedding => Some(AnswerScorer::shared_embedded()?),
            AnswerScoring::KeywordModel => None,
        };
        let voice = match config.gate.voice_check {
            VoiceCheck::Off => VoiceState::Off,
            _ => VoiceState::On {
                model: Box::new(VoiceModel::shared_embedded()?),
                request: None,
            },
        };
        let history_cap = (config.max_name + config.gate.name_window + 16_000 * 2)
            .max(config.max_answer + config.answer_tail + 2 * crate::answer::PAD as u64)
            .max(REQUEST_VOICE_SPAN) as usize;
        Ok(MessageFlow {
            config,
            detector,
            gate,
            plan,
            history: VecDeque::with_capacity(history_cap),
            history_start: 0,
            history_cap,
            capture: Capture::Off,
            recorded_to: 0,
            wake,
            intent,
            answer_labels,
            answer_scorer,
            voice,
            now: 0,
        })
    }

    /// Read answers with `scorer` (for example a custom head, see
    /// [`AnswerScorer::from_bytes`]) instead of what `FlowConfig::answer_scoring`
    /// chose; the events then report [`AnswerScoring::SpeechEmbedding`].
    pub fn set_answer_scorer(&mut self, scorer: AnswerScorer) {
        self.answer_scorer = Some(scorer);
    }

    /// The gate (state, contacts, audit log).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The gate, mutably: remove or block contacts at any time.
    pub fn gate_mut(&mut self) -> &mut Gate {
        &mut self.gate
    }

    /// The front-end plan used for name features (to enroll contacts).
    pub fn plan(&self) -> &Arc<MfccPlan> {
        &self.plan
    }

    /// Samples processed so far.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The application has finished presenting the read-back prompt.
    pub fn readback_finished(&mut self, events: &mut Vec<FlowEvent>) -> Option<ConfirmedMessage> {
        let at = self.now;
        let result = self.gate.handle(Input::ReadbackFinished { at });
        let out = self.absorb(at, result, events);
        self.sync_capture();
        out
    }

    /// The user or application cancels the request in progress.
    pub fn cancel(&mut self, events: &mut Vec<FlowEvent>) {
        let at = self.now;
        let result = self.gate.handle(Input::Cancel { at });
        let _ = self.absorb(at, result, events);
        self.sync_capture();
    }

    /// About `samples` samples of the stream were lost before the audio
    /// pushed next (a capture overrun): written to the audit log, and the
    /// request in progress, if any, is cancelled ([`Input::AudioLost`]).
    /// The stream's clock does not move: [`MessageFlow::now`] counts the
    /// samples pushed.
    pub fn audio_lost(&mut self, samples: u64, events: &mut Vec<FlowEvent>) {
        let at = self.now;
        events.push(FlowEvent::AudioLost { at, samples });
        let result = self.gate.handle(Input::AudioLost { samples, at });
        let _ = self.absorb(at, result, events);
        self.sync_capture();
    }

    /// Process a chunk of 16 kHz mono PCM. Events are appended to `events`;
    /// a confirmed message, if this chunk completed one, is returned.
    pub fn push(
        &mut self,
        pcm: &[i16],
        events: &mut Vec<FlowEvent>,
    ) -> Result<Option<ConfirmedMessage>, Error> {
        let mut detections = Vec::new();
        let mut frames = Vec::new();
        let want_frames = matches!(self.capture, Capture::Answer { .. })
            || self.gate.state() == GateStateKind::AwaitingAnswer;
        self.detector.push(
            pcm,
            Collect {
                detections: &mut detections,
                frames: &mut frames,
                answer_labels: self.answer_labels,
                want_frames,
            },
        )?;
        self.now += pcm.len() as u64;
        self.remember(pcm);
        let mut dispatched = None;

        for d in detections {
            let at = self.now;
            if self.wake[d.label_index] {
                events.push(FlowEvent::Wake {
                    label: d.label.clone(),
                    score: d.score,
                    at: d.end_sample,
                });
                if self.gate.state() == GateStateKind::Idle {
                    let r = self.gate.handle(Input::Wake { score: d.score, at });
                    keep(&mut dispatched, self.absorb(at, r, events));
                }
            } else if d.label_index == self.intent {
                events.push(FlowEvent::Intent {
                    score: d.score,
                    at: d.end_sample,
                });
                if self.gate.state() == GateStateKind::AwaitingIntent {
                    let r = self.gate.handle(Input::Intent { score: d.score, at });
                    keep(&mut dispatched, self.absorb(at, r, events));
                    if self.gate.state() == GateStateKind::AwaitingName {
                        self.capture = Capture::Name {
                            from: d.end_sample.saturating_sub(1_600),
                            speech: None,
                        };
                    }
                }
            }
        }

        self.advance_capture(&frames, events, &mut dispatched)?;
        self.feed_recording(events, &mut dispatched);
        let at = self.now;
        let r = self.gate.handle(Input::Tick { at });
        keep(&mut dispatched, self.absorb(at, r, events));
        self.sync_capture();
        Ok(dispatched)
    }

    fn remember(&mut self, pcm: &[i16]) {
        self.history.extend(pcm.iter().copied());
        while self.history.len() > self.history_cap {
            self.history.pop_front();
            self.history_start += 1;
        }
    }

    /// Samples `from..to` of the stream still held in the history, in a
    /// copy that is wiped when dropped.
    fn history_range(&self, from: u64, to: u64) -> Zeroizing<Vec<i16>> {
        let from = from.max(self.history_start);
        let to = to.min(self.now);
        if to <= from {
            return Zeroizing::new(Vec::new());
        }
        let a = (from - self.history_start) as usize;
        let b = (to - self.history_start) as usize;
        Zeroizing::new(self.history.range(a..b).copied().collect())
    }

    /// Run the segmenter over newly available audio for the name or answer.
    fn advance_capture(
        &mut self,
        frames: &[(u64, [f32; 3])],
        events: &mut Vec<FlowEvent>,
        dispatched: &mut Option<ConfirmedMessage>,
    ) -> Result<(), Error> {
        match self.capture.clone() {
            Capture::Off => {}
            Capture::Name { from, speech } => {
                let (speech, done) = self.segment(from, speech, self.config.min_name);
                let long = speech.is_some_and(|(s, e)| e - s >= self.config.max_name);
                if let (Some((s, e)), true) = (speech, done || long) {
                    let e = e.min(s + self.config.max_name);
                    let pcm = self.history_range(s, e);
                    self.measure_request_voice(e)?;
                    events.push(FlowEvent::NameSegment { start: s, end: e });
                    // The name is decided as of its end, so that the message
                    // audio after it can be handed to the recorder in order.
                    let at = e.max(self.gate.now());
                    let (input, lo) =
                        match trimmed_name_features(&self.plan, &pcm, self.config.speech_rms) {
                            Ok((spoken, lo)) => (Input::Name { spoken, at }, lo),
                            Err(_) => (Input::Cancel { at }, 0),
                        };
                    let seen = events.len();
                    let r = self.gate.handle(input);
                    keep(dispatched, self.absorb(at, r, events));
                    // The message starts where the name was heard to end
                    // (with no pause after the name, the cut runs on into the
                    // message), or after the cut.
                    self.recorded_to = e;
                    let heard = events[seen..].iter().find_map(|ev| match ev {
                        FlowEvent::Gate {
                            event: GateEvent::ContactMatched { spoken_frames, .. },
                            ..
                        } if !spoken_frames.is_empty() => Some(spoken_frames.end),
                        _ => None,
                    });
                    if let Some(end_frame) = heard {
                        let end =
                            lo + (end_frame - 1) * self.plan.hop_len() + self.plan.frame_len();
                        self.recorded_to = (s + end as u64).min(e);
                    }
                    self.capture = Capture::Off;
                } else {
                    self.capture = Capture::Name { from, speech };
                }
            }
            Capture::Answer {
                from,
                opened,
                armed,
                speech,
                mut best,
            } => {
                let (from, armed) = if armed { (from, true) } else { self.arm(from) };
                // Until armed there is no answer yet (and `speech` is None).
                let (speech, done) = if armed {
                    self.segment(from, speech, 0)
                } else {
                    (speech, false)
                };
                // No speech yet: the whole frames scanned need no second look.
                let from = match speech {
                    None if self.now > from => {
                        from + (self.now - from) / SEG_FRAME as u64 * SEG_FRAME as u64
                    }
                    _ => from,
                };
                if let Some((s, e)) = speech {
                    for (end, p) in frames {
                        if *end >= s && *end <= e + self.config.answer_tail {
                            for k in 0..3 {
                                best[k] = best[k].max(p[k]);
                            }
                        }
                    }
                    let too_long = e - s > self.config.max_answer;
                    let tail_done = self.now >= e + self.config.answer_tail;
                    if too_long || (done && tail_done) {
                        let pcm = self.answer_audio(opened, s, e);
                        let (scores, scoring) = self.score_answer(&pcm, best, too_long)?;
                        let [yes, no, cancel] = scores;
                        let voice = self.answer_voice(&pcm)?;
                        events.push(FlowEvent::Answer {
                            yes,
                            no,
                            cancel,
                            voice,
                            start: s,
                            end: e,
                            scoring,
                        });
                        let at = self.now;
                        let r = self.gate.handle(Input::Answer {
                            yes,
                            no,
                            cancel,
                            voice,
                            started_at: s,
                            at,
                        });
                        keep(dispatched, self.absorb(at, r, events));
                        self.capture = Capture::Off;
                        return Ok(());
                    }
                }
                self.capture = Capture::Answer {
                    from,
                    opened,
                    armed,
                    speech,
                    best,
                };
            }
        }
        Ok(())
    }

    /// Scan whole 10 ms frames from `from` for the first quiet one. Returns
    /// where scanning resumes (that frame, or the end of the whole frames
    /// scanned) and whether one was found.
    fn arm(&self, from: u64) -> (u64, bool) {
        let pcm = self.history_range(from, self.now);
        let base = from.max(self.history_start);
        let speech_rms = f64::from(self.config.speech_rms);
        let mut whole = 0;
        for (i, frame) in pcm.chunks_exact(SEG_FRAME).enumerate() {
            let t = base + (i * SEG_FRAME) as u64;
            if frame_rms(frame) < speech_rms {
                return (t, true);
            }
            whole = i + 1;
        }
        (base + (whole * SEG_FRAME) as u64, false)
    }

    /// With the voice check on, measure the request's voice on the speech
    /// of the [`REQUEST_VOICE_SPAN`] before `end` (the spoken name's end:
    /// "… send a message to Alice").
    fn measure_request_voice(&mut self, end: u64) -> Result<(), Error> {
        if matches!(self.voice, VoiceState::Off) {
            return Ok(());
        }
        let pcm = self.history_range(end.saturating_sub(REQUEST_VOICE_SPAN), end);
        if let VoiceState::On { model, request } = &mut self.voice {
            *request = model.voice(&pcm)?;
        }
        Ok(())
    }

    /// With the voice check on, the voice of the answer's audio (`pcm`,
    /// what the answer scorer reads) against the request's; the request's
    /// voice is used once and wiped.
    fn answer_voice(&mut self, pcm: &[i16]) -> Result<VoiceMatch, Error> {
        let VoiceState::On { model, request } = &mut self.voice else {
            return Ok(VoiceMatch::NotMeasured);
        };
        let answer = model.voice(pcm)?;
        Ok(match (request.take(), answer) {
            (Some(r), Some(a)) => VoiceMatch::Similarity(r.similarity(&a)),
            _ => VoiceMatch::NotMeasured,
        })
    }

    /// The answer's audio: from [`crate::answer::PAD`] before its first
    /// speech frame to `PAD` after its last, never from before the window
    /// opened (the device's prompt).
    fn answer_audio(&self, opened: u64, s: u64, e: u64) -> Zeroizing<Vec<i16>> {
        let pad = crate::answer::PAD as u64;
        self.history_range(s.saturating_sub(pad).max(opened), e + pad)
    }

    /// The answer's three scores: the second stage's on the answer's audio
    /// (`pcm`, [`MessageFlow::answer_audio`]), or the keyword model's best
    /// posteriors. A too-long
    /// answer, or one in which the second stage hears no speech, scores 0.
    fn score_answer(
        &mut self,
        pcm: &[i16],
        best: [f32; 3],
        too_long: bool,
    ) -> Result<([f32; 3], AnswerScoring), Error> {
        if self.answer_scorer.is_none() {
            let scores = if too_long { [0.0; 3] } else { best };
            return Ok((scores, AnswerScoring::KeywordModel));
        }
        if too_long {
            return Ok(([0.0; 3], AnswerScoring::SpeechEmbedding));
        }
        let scores = match self.answer_scorer.as_mut() {
            Some(scorer) => scorer.score(pcm)?,
            None => None,
        };
        Ok((
            scores.map_or([0.0; 3], |a| [a.yes, a.no, a.cancel]),
            AnswerScoring::SpeechEmbedding,
        ))
    }

    /// Find the utterance starting at or after `from`, or extend `speech`
    /// (then `from` is unused: scanning resumes at its end). Returns the span
    /// so far and whether a pause of `segment_pause` has ended it; a pause
    /// ends it only once the span is at least `min_len` long.
    fn segment(
        &self,
        from: u64,
        speech: Option<(u64, u64)>,
        min_len: u64,
    ) -> (Option<(u64, u64)>, bool) {
        // A pause of `segment_pause` at time `t` ends a span of `min_len` or more.
        let pause = self.config.segment_pause;
        let ended = |span: Option<(u64, u64)>, t: u64| {
            span.is_some_and(|(s, e)| t >= e + pause && e - s >= min_len)
        };
        let scan_from = speech.map_or(from, |(_, e)| e);
        let pcm = self.history_range(scan_from, self.now);
        let base = scan_from.max(self.history_start);
        let mut span = speech;
        for (i, frame) in pcm.chunks(SEG_FRAME).enumerate() {
            if frame.len() < SEG_FRAME {
                break;
            }
            let t = base + (i * SEG_FRAME) as u64;
            if ended(span, t) {
                // The pause ended the utterance before this frame: what
                // follows (the message after the name) is not part of it,
                // however much audio arrived in one call.
                return (span, true);
            }
            if frame_rms(frame) >= f64::from(self.config.speech_rms) {
                span = Some(match span {
                    Some((s, _)) => (s, t + SEG_FRAME as u64),
                    None => (t, t + SEG_FRAME as u64),
                });
            }
        }
        (span, ended(span, self.now))
    }

    /// While the gate records, hand it every sample since the name's end.
    fn feed_recording(
        &mut self,
        events: &mut Vec<FlowEvent>,
        dispatched: &mut Option<ConfirmedMessage>,
    ) {
        if self.gate.state() != GateStateKind::Recording {
            return;
        }
        let from = self.recorded_to.max(self.history_start);
        let pcm = self.history_range(from, self.now);
        if pcm.is_empty() {
            return;
        }
        // Stamped no earlier than the gate's clock (the name may have been
        // decided after its end); the recording's length is counted in
        // samples, so the stamp does not change where it ends.
        let r = self.gate.handle(Input::Audio {
            samples: &pcm,
            at: from.max(self.gate.now()),
        });
        self.recorded_to = from + pcm.len() as u64;
        let at = self.now;
        keep(dispatched, self.absorb(at, r, events));
    }

    /// Start or stop utterance capture to follow the gate's state.
    fn sync_capture(&mut self) {
        if self.gate.state() == GateStateKind::Idle
            && let VoiceState::On { request, .. } = &mut self.voice
        {
            // The request ended: its voice is wiped (VoicePrint's Drop).
            *request = None;
        }
        match (self.gate.state(), &self.capture) {
            (GateStateKind::AwaitingAnswer, Capture::Off) => {
                // From the first whole 10 ms frame after the read-back
                // finished: the device's own prompt is never scored, and
                // speech already under way then is not an answer.
                let from = self.now.div_ceil(SEG_FRAME as u64) * SEG_FRAME as u64;
                self.capture = Capture::Answer {
                    from,
                    opened: from,
                    armed: false,
                    speech: None,
                    best: [0.0; 3],
                };
            }
            (GateStateKind::AwaitingName, _) | (GateStateKind::AwaitingAnswer, _) => {}
            (_, Capture::Off) => {}
            _ => self.capture = Capture::Off,
        }
    }

    fn absorb(
        &mut self,
        at: u64,
        result: Result<crate::gate::Step, Rejected>,
        events: &mut Vec<FlowEvent>,
    ) -> Option<ConfirmedMessage> {
        match result {
            Ok(step) => {
                events.extend(
                    step.events
                        .into_iter()
                        .map(|event| FlowEvent::Gate { at, event }),
                );
                step.dispatch
            }
            Err(rejected) => {
                events.push(FlowEvent::Refused {
                    at,
                    error: rejected.error.to_string(),
                });
                events.extend(
                    rejected
                        .events
                        .into_iter()
                        .map(|event| FlowEvent::Gate { at, event }),
                );
                None
            }
        }
    }
}

pub(crate) fn keep(slot: &mut Option<ConfirmedMessage>, new: Option<ConfirmedMessage>) {
    if slot.is_none() {
        *slot = new;
    }
}

/// The answer scores of a whole recording, as [`MessageFlow`] computes them
/// for the utterance after a read-back: the highest smoothed `yes`, `no` and
/// `cancel` posteriors over the recording and the detector's end-of-stream
/// tail. `detector` is reset first and finished after.
pub fn answer_scores(detector: &mut Detector, pcm: &[i16]) -> Result<[f32; 3], Error> {
    struct Best<'a> {
        labels: [usize; 3],
        best: &'a mut [f32; 3],
    }
    impl DetectorSink for Best<'_> {
        fn detection(&mut self, _: Detection) {}
        fn frame(&mut self, _: u64, smoothed: &[f32]) {
            for (b, &l) in self.best.iter_mut().zip(&self.labels) {
                *b = b.max(smoothed[l]);
            }
        }
    }
    let meta = detector.model().metadata();
    let labels = [
        meta.label_index("yes")?,
        meta.label_index("no")?,
        meta.label_index("cancel")?,
    ];
    let mut best = [0.0f32; 3];
    detector.reset()?;
    detector.push(
        pcm,
        Best {
            labels,
            best: &mut best,
        },
    )?;
    detector.finish(Best {
        labels,
        best: &mut best,
    })?;
    Ok(best)
}

/// Estimated time to speak a read-back prompt, in samples at 16 kHz:
/// 0.3 s plus 65 ms per character (about 15 characters per second, a
/// typical text-to-speech rate). "Send a 6-second message to Alice?"
/// (33 characters) takes 2.45 s.
pub fn spoken_duration(prompt: &str) -> u64 {
    4_800 + 1_040 * prompt.chars().count() as u64
}
