//! Stage 4 of the pipeline: PCM → keyword events. The [`Detector`] runs the
//! front end and the model on a stream, smooths the posteriors, applies a
//! threshold per label, and reports each event once.

use std::sync::Arc;

use crate::error::{Error, ModelError};
use crate::features::{MfccPlan, MfccStream, PcmSample};
use crate::model::{KeywordModel, ModelState};

/// Detector options. Thresholds and active labels are set per label on the
/// [`Detector`] itself (they start at the model's defaults, all active).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Posteriors are averaged over this many frames (10 ms each) before
    /// thresholding. Default: 3.
    pub smoothing_frames: usize,
    /// After an event, the same label is not reported again for this many
    /// frames, and not before its score has fallen below the threshold.
    /// Default: 100 (1 s).
    pub refractory_frames: u64,
    /// An event is reported when the smoothed score falls back below the
    /// threshold, or at the latest this many frames after it rose above it
    /// (bounding the latency). Default: 30 (300 ms).
    pub max_event_frames: u64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            smoothing_frames: 3,
            refractory_frames: 100,
            max_event_frames: 30,
        }
    }
}

/// One keyword event.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The label, e.g. `"computer"`.
    pub label: Arc<str>,
    /// Index of the label in the model's label list.
    pub label_index: usize,
    /// Peak smoothed posterior during the event, in `[0, 1]`.
    pub score: f32,
    /// Estimated first sample of the keyword: `end_sample` minus the
    /// label's typical duration from the model metadata (0.8 s if absent).
    pub start_sample: u64,
    /// Sample at which the smoothed score first crossed the threshold: the
    /// keyword has ended by then (the network fires at the word's end).
    pub end_sample: u64,
    /// Sample at which the event was reported (`end_sample` plus the time
    /// the score stayed above threshold, at most `max_event_frames`).
    pub reported_sample: u64,
}

/// Receives what a [`Detector`] produces. Any `FnMut(Detection)` closure is
/// a sink that only wants events; implement the trait to also observe the
/// smoothed posteriors of every frame (the send-message flow scores spoken
/// answers that way).
pub trait DetectorSink {
    /// A completed keyword event.
    fn detection(&mut self, detection: Detection);
    /// The smoothed posteriors of one frame (indexed like the model's
    /// labels), with the sample at which that frame ends. Default: ignored.
    fn frame(&mut self, _frame_end_sample: u64, _smoothed: &[f32]) {}
}

impl<F: FnMut(Detection)> DetectorSink for F {
    fn detection(&mut self, detection: Detection) {
        self(detection)
    }
}

/// Per-label event tracking: one explicit state per label.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Track {
    Idle,
    Above {
        start: u64,
        peak: f32,
    },
    /// Cooling down: re-armed once `frame >= until` and the score is below threshold.
    Refractory {
        until: u64,
    },
}

/// Quiet, deterministic noise (about -70 dBFS) used to bring a new stream's
/// network state to "quiet room" rather than "no history".
fn quiet_noise(n: usize) -> Vec<i16> {
    let mut state = 0x2545_F491u32;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((state >> 24) as i16 - 128) / 16
        })
        .collect()
}

/// Streaming keyword detector: one per audio stream.
///
/// # Real-time considerations
/// The front end never allocates after construction. The network runs
/// every `chunk_frames` frames (200 ms for the bundled model): pushes that
/// do not complete a chunk perform no heap allocation, while tract
/// allocates its intermediate and output tensors on each network call (197
/// small allocations with the bundled model, the same count every call;
/// `tests/alloc_free.rs`). Detection callbacks run inline.
///
/// A frame is scored once its chunk is complete, so an event is reported
/// up to `chunk_frames` frames (200 ms) later than a frame-by-frame network
/// would report it, on top of the smoothing and `max_event_frames`.
#[derive(Debug)]
pub struct Detector {
    mfcc: MfccStream,
    core: Core,
    finished: bool,
}

/// Everything after the front end: model state, smoothing and tracking.
/// Separate from the front end so a frame callback can borrow it.
#[derive(Debug)]
struct Core {
    model: Arc<KeywordModel>,
    config: DetectorConfig,
    state: ModelState,
    chunk: Vec<f32>,
    chunk_fill: usize,
    probs: Vec<f32>,
    /// `smoothing_frames × n_labels` recent posteriors (ring).
    history: Vec<f32>,
    history_pos: usize,
    /// Smoothed posteriors of the current frame.
    smoothed: Vec<f32>,
    thresholds: Vec<f32>,
    active: Vec<bool>,
    tracks: Vec<Track>,
    labels: Vec<Arc<str>>,
    durations: Vec<u64>,
    /// Index of the next model output frame, in frames of the user's stream.
    frame: u64,
    hop: u64,
    frame_len: u64,
}

impl Detector {
    /// A detector over `model` with thresholds at the model's defaults.
    pub fn new(model: Arc<KeywordModel>, config: DetectorConfig) -> Result<Self, Error> {
        for (field, zero) in [
            ("smoothing_frames", config.smoothing_frames == 0),
            ("max_event_frames", config.max_event_frames == 0),
        ] {
            if zero {
                return Err(crate::error::ConfigError::NotPositive { field }.into());
            }
        }
        let meta = model.metadata();
        let plan = Arc::new(MfccPlan::new(meta.front_end()?)?);
        let n = meta.labels.len();
        let labels: Vec<Arc<str>> = meta.labels.iter().map(|l| Arc::from(l.as_str())).collect();
        let thresholds = meta
            .labels
            .iter()
            .map(|l| meta.thresholds.get(l).copied().unwrap_or(1.0))
            .collect();
        let sr = plan.config().sample_rate as f32;
        let durations = meta
            .labels
            .iter()
            .map(|l| (meta.durations.get(l).copied().unwrap_or(0.8) * sr) as u64)
            .collect();
        let core = Core {
            state: model.new_state()?,
            chunk: vec![0.0; model.chunk_frames() * model.n_features()],
            chunk_fill: 0,
            probs: vec![0.0; model.chunk_frames() * n],
            history: vec![0.0; config.smoothing_frames * n],
            history_pos: 0,
            smoothed: vec![0.0; n],
            thresholds,
            active: (0..n).map(|i| i > 0).collect(),
            tracks: vec![Track::Idle; n],
            labels,
            durations,
            frame: 0,
            hop: plan.hop_len() as u64,
            frame_len: plan.frame_len() as u64,
            config,
            model,
        };
        let mut detector = Detector {
            mfcc: MfccStream::new(plan, 1)?,
            core,
            finished: false,
        };
        detector.prime()?;
        Ok(detector)
    }

    /// A detector over the embedded default model with default options.
    pub fn with_default_model() -> Result<Self, Error> {
        Self::new(
            Arc::new(KeywordModel::embedded()?),
            DetectorConfig::default(),
        )
    }

    /// The model.
    pub fn model(&self) -> &Arc<KeywordModel> {
        &self.core.model
    }

    /// The label names, background first.
    pub fn labels(&self) -> &[Arc<str>] {
        &self.core.labels
    }

    /// Current threshold of `label`.
    pub fn threshold(&self, label: &str) -> Result<f32, Error> {
        Ok(self.core.thresholds[self.core.keyword_index(label)?])
    }

    /// Set the threshold of `label` (in `(0, 1]`).
    pub fn set_threshold(&mut self, label: &str, threshold: f32) -> Result<(), Error> {
        let i = self.core.keyword_index(label)?;
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(crate::error::ConfigError::NotPositive {
                field: "threshold (must be in (0, 1])",
            }
            .into());
        }
        self.core.thresholds[i] = threshold;
        Ok(())
    }

    /// Set every keyword label's threshold.
    pub fn set_all_thresholds(&mut self, threshold: f32) -> Result<(), Error> {
        let labels = self.core.labels.clone();
        for l in labels.iter().skip(1) {
            self.set_threshold(l, threshold)?;
        }
        Ok(())
    }

    /// Enable or disable reporting of `label`. A disabled label's event in
    /// progress is dropped.
    pub fn set_active(&mut self, label: &str, active: bool) -> Result<(), Error> {
        let i = self.core.keyword_index(label)?;
        self.core.active[i] = active;
        if !active {
            self.core.tracks[i] = Track::Idle;
        }
        Ok(())
    }

    /// Samples consumed so far (excluding the internal priming).
    pub fn samples_consumed(&self) -> u64 {
        self.mfcc.samples_consumed()
    }

    /// Forget the stream: state back to "quiet room", no event in progress.
    pub fn reset(&mut self) -> Result<(), Error> {
        self.core.state = self.core.model.new_state()?;
        self.finished = false;
        self.prime()
    }

    /// Bring the network state to "quiet room" and clear all tracking.
    fn prime(&mut self) -> Result<(), Error> {
        let core = &mut self.core;
        let frames = core.model.metadata().context_frames + core.model.chunk_frames();
        let samples = frames * core.hop as usize + core.frame_len as usize;
        let mut scratch = MfccStream::new(self.mfcc.plan().clone(), 1)?;
        let mut result = Ok(0);
        core.chunk_fill = 0;
        scratch.push_with(&quiet_noise(samples), |_, f| {
            if result.is_ok() {
                result = core.push_frame(f, &mut |_: Detection| {});
            }
        })?;
        result?;
        core.chunk_fill = 0;
        core.frame = 0;
        core.history.fill(0.0);
        core.history_pos = 0;
        core.tracks.fill(Track::Idle);
        self.mfcc.reset();
        Ok(())
    }

    /// Push PCM (any chunk size; `i16` or `f32` in `[-1, 1]`) and hand
    /// every event completed by it to `sink` (a closure `|d: Detection|` or
    /// a [`DetectorSink`]). Returns the number of events reported. A chunk
    /// with NaN/infinite samples is refused whole.
    pub fn push<S: PcmSample>(
        &mut self,
        pcm: &[S],
        mut on_detection: impl DetectorSink,
    ) -> Result<usize, Error> {
        self.push_into(pcm, &mut on_detection)
    }

    fn push_into<S: PcmSample>(
        &mut self,
        pcm: &[S],
        on_detection: &mut impl DetectorSink,
    ) -> Result<usize, Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        let core = &mut self.core;
        let mut result = Ok(0);
        self.mfcc.push_with(pcm, |_, f| {
            if let Ok(count) = result {
                result = core.push_frame(f, on_detection).map(|n| count + n);
            }
        })?;
        result
    }

    /// End of stream: feed 0.5 s of quiet noise so a keyword at the very end
    /// can complete, then report any event still in progress. Afterwards the
    /// detector refuses audio until [`reset`](Self::reset).
    pub fn finish(&mut self, mut on_detection: impl DetectorSink) -> Result<usize, Error> {
        if self.finished {
            return Ok(0);
        }
        let mut count = self.push_into(&quiet_noise(8_000), &mut on_detection)?;
        let core = &mut self.core;
        let now = core.frame.saturating_sub(1);
        for label in 1..core.labels.len() {
            if let Track::Above { start, peak } = core.tracks[label] {
                on_detection.detection(core.detection(label, start, now, peak));
                core.tracks[label] = Track::Idle;
                count += 1;
            }
        }
        self.finished = true;
        Ok(count)
    }
}

impl Core {
    fn keyword_index(&self, label: &str) -> Result<usize, Error> {
        match self.labels.iter().position(|l| &**l == label) {
            Some(i) if i > 0 => Ok(i),
            _ => Err(ModelError::UnknownLabel(label.to_string()).into()),
        }
    }

    /// Append one feature frame; run the network when a chunk is complete.
    fn push_frame(&mut self, frame: &[f32], sink: &mut impl DetectorSink) -> Result<usize, Error> {
        let dim = frame.len();
        let at = self.chunk_fill * dim;
        self.chunk[at..at + dim].copy_from_slice(frame);
        self.chunk_fill += 1;
        if (self.chunk_fill) * dim < self.chunk.len() {
            return Ok(0);
        }
        self.chunk_fill = 0;
        self.model
            .run_chunk(&mut self.state, &self.chunk, &mut self.probs)?;
        let n = self.labels.len();
        let w = self.config.smoothing_frames;
        let mut events = 0;
        for k in 0..self.model.chunk_frames() {
            let slot = self.history_pos * n;
            self.history[slot..slot + n].copy_from_slice(&self.probs[k * n..(k + 1) * n]);
            self.history_pos = (self.history_pos + 1) % w;
            let frame = self.frame;
            self.frame += 1;
            for label in 0..n {
                self.smoothed[label] =
                    (0..w).map(|j| self.history[j * n + label]).sum::<f32>() / w as f32;
            }
            sink.frame(self.frame_end_sample(frame), &self.smoothed);
            for label in 1..n {
                if !self.active[label] {
                    continue;
                }
                if let Some(d) = self.step_track(label, frame, self.smoothed[label]) {
                    events += 1;
                    sink.detection(d);
                }
            }
        }
        Ok(events)
    }

    fn frame_end_sample(&self, frame: u64) -> u64 {
        frame * self.hop + self.frame_len
    }

    fn step_track(&mut self, label: usize, frame: u64, score: f32) -> Option<Detection> {
        let threshold = self.thresholds[label];
        let (next, event) = match self.tracks[label] {
            Track::Idle if score >= threshold => (
                Track::Above {
                    start: frame,
                    peak: score,
                },
                None,
            ),
            Track::Idle => (Track::Idle, None),
            Track::Above { start, peak } => {
                let peak = peak.max(score);
                if score < threshold || frame - start + 1 >= self.config.max_event_frames {
                    let until = start + self.config.refractory_frames;
                    (
                        Track::Refractory { until },
                        Some(self.detection(label, start, frame, peak)),
                    )
                } else {
                    (Track::Above { start, peak }, None)
                }
            }
            Track::Refractory { until } if frame >= until && score < threshold => {
                (Track::Idle, None)
            }
            refractory @ Track::Refractory { .. } => (refractory, None),
        };
        self.tracks[label] = next;
        event
    }

    fn detection(&self, label: usize, start: u64, now: u64, peak: f32) -> Detection {
        let end_sample = self.frame_end_sample(start);
        Detection {
            label: self.labels[label].clone(),
            label_index: label,
            score: peak,
            start_sample: end_sample.saturating_sub(self.durations[label]),
            end_sample,
            reported_sample: self.frame_end_sample(now),
        }
    }
}
