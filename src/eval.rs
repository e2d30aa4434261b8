//! Evaluation on labeled audio: miss rate against false alarms per hour.
//!
//! This module is the metric code behind `examples/evaluate.rs`. It is pure
//! computation: the caller runs a [`Detector`](crate::detector::Detector)
//! over each file, converts its events with [`ScoredEvent::from_detection`],
//! describes each file's truth with a [`Source`], and builds an
//! [`Evaluation`], which scores the events at any threshold `T`: an event of
//! peak score `s` counts at `T` iff `s ≥ T`.
//!
//! Two ways to get operating points:
//!
//! - **Sweep** ([`Evaluation::det_curve`]): one detector run with every
//!   threshold at a low *candidate threshold* (e.g. 0.05), scored at every
//!   distinct event score. Fine-grained and cheap, but approximate: the
//!   detector groups frames into events and applies its refractory period
//!   relative to its own threshold, so a run at a higher threshold can
//!   report events the candidate run merged or cut short (see
//!   [`Evaluation`]).
//! - **Runs** ([`ThresholdRuns`]): one detector run per threshold, each
//!   scored at its own threshold. Exactly what a detector at that threshold
//!   reports, at the cost of one run per point.
//!
//! # Definitions (per label `L`, at threshold `T`)
//!
//! - **Positive utterances**: every clip whose label is `L`
//!   ([`Truth::Clip`]), and every annotated span of label `L` in a long
//!   recording ([`Truth::Stream`]).
//! - **Hit**: a positive utterance with at least one event of label `L` and
//!   score `≥ T` that *matches* it: for a clip, anywhere in the clip; for a
//!   span, with event time in `[start_s, end_s + tolerance_s]`
//!   ([`EvalConfig::tolerance_s`], default 1.0 s). **Misses** = positives −
//!   hits; **miss rate** = misses / positives.
//! - **False alarm**: an event of label `L` with score `≥ T` that matches no
//!   positive utterance of `L`, including `L` events on clips of other labels
//!   or of no label. Events that match an utterance are never false alarms,
//!   even when there are several.
//! - **Background time** of `L`: the duration of all material where an `L`
//!   event would be a false alarm: every clip not labelled `L`, plus, in each
//!   stream, its duration minus the union of its `L` match windows
//!   `[start_s, end_s + tolerance_s]` (clipped to the recording).
//!   **False alarms per hour** = false alarms / background hours.
//! - **DET curve**: the operating points at every distinct event score of
//!   `L`, from the highest threshold (fewest false alarms) down.
//! - **Miss rate at a target FA/h**: the lowest miss rate over the DET points
//!   whose FA/h is at most the target; among equal miss rates, the highest
//!   threshold. `None` when no candidate threshold reaches the target
//!   (detecting nothing at all would: miss rate 1).
//! - **Latency** of a hit: time of the first matching event with score `≥ T`
//!   minus the end of the utterance: the annotated `end_s` for spans, the end
//!   of speech found by [`speech_bounds`] for clips (hits on clips where no
//!   speech is found have no latency). Reported as the median (mean of the
//!   two middle values for an even count) and the 95th percentile (nearest
//!   rank: the `⌈0.95·n⌉`-th smallest value). Negative values mean the event
//!   fired before the end found by the VAD.
//!
//! Annotation files ([`read_annotations`]) are CSV with a `label,start,end`
//! header or a JSON array of `{"label", "start", "end"}` objects, times in
//! seconds; errors name the file and the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;
use crate::detector::Detection;

/// Index of a [`Source`] in the list given to [`Evaluation::new`].
pub type SourceId = usize;

/// Default [`EvalConfig::tolerance_s`]: 1.0 s.
pub const DEFAULT_TOLERANCE_S: f64 = 1.0;

/// A threshold low enough to list every plausible candidate event: 0.05.
pub const DEFAULT_CANDIDATE_THRESHOLD: f32 = 0.05;

/// The false-alarm rates (per hour) at which miss rates are reported by
/// default: 0.1, 0.5 and 1.
pub const DEFAULT_FA_TARGETS: [f64; 3] = [0.1, 0.5, 1.0];

/// Why an evaluation input was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An annotation file is malformed or inconsistent with its recording.
    Annotation {
        /// The annotation file.
        path: PathBuf,
        /// 1-based line of the problem (for JSON: the line where the
        /// offending object ends, or of the syntax error).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A label the evaluation does not cover was asked for.
    UnknownLabel(String),
    /// Inconsistent data given to [`Evaluation::new`] or an option out of
    /// range; the message names the source or the option.
    Invalid(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            EvalError::Annotation { path, line, reason } => {
                write!(f, "{}, line {line}: {reason}", path.display())
            }
            EvalError::UnknownLabel(l) => write!(f, "label {l:?} is not evaluated"),
            EvalError::Invalid(why) => write!(f, "invalid evaluation input: {why}"),
        }
    }
}

impl std::error::Error for EvalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EvalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One candidate event, as reported by the detector at the candidate threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredEvent {
    /// Label of the event.
    pub label: String,
    /// Peak smoothed score of the event, in `[0, 1]`.
    pub score: f32,
    /// Event (end) time in seconds from the start of its source: when the
    /// smoothed score crossed the threshold ([`Detection::end_sample`]).
    pub time_s: f64,
    /// The file the event was found in.
    pub source: SourceId,
}

impl ScoredEvent {
    /// Convert a detector event found in `source` (16 kHz sample clock).
    pub fn from_detection(d: &Detection, source: SourceId) -> Self {
        ScoredEvent {
            label: d.label.to_string(),
            score: d.score,
            time_s: d.end_sample as f64 / f64::from(SAMPLE_RATE),
            source,
        }
    }
}

/// One annotated utterance in a long recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The label spoken, e.g. `"computer"`.
    pub label: String,
    /// Start of the utterance, seconds from the start of the recording.
    pub start_s: f64,
    /// End of the utterance, seconds from the start of the recording.
    pub end_s: f64,
}

/// What a file contains.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// A short clip holding one utterance of `label`, or negative material
    /// (`None`: other words, speech, noise).
    Clip {
        /// The clip's label, if it is a positive for one.
        label: Option<String>,
        /// End of speech in the clip, seconds (for latency; see
        /// [`speech_bounds`]). `None` if unknown.
        speech_end_s: Option<f64>,
    },
    /// A long recording with every keyword utterance annotated; everything
    /// outside the spans is negative material.
    Stream {
        /// The annotated utterances.
        spans: Vec<Span>,
    },
}

/// One evaluated file.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// A name for messages (usually the path).
    pub name: String,
    /// Duration in seconds.
    pub duration_s: f64,
    /// What it contains.
    pub truth: Truth,
}

/// Evaluation options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalConfig {
    /// An event matches an annotated span if its time is in
    /// `[start_s, end_s + tolerance_s]`. Default: [`DEFAULT_TOLERANCE_S`] (1.0 s).
    pub tolerance_s: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            tolerance_s: DEFAULT_TOLERANCE_S,
        }
    }
}

/// Latency statistics of the hits at one threshold, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Hits whose utterance end is known (the values the statistics are over).
    pub count: usize,
    /// Median (mean of the two middle values for an even count).
    pub median_s: Option<f64>,
    /// 95th percentile, nearest rank.
    pub p95_s: Option<f64>,
}

impl LatencyStats {
    /// Statistics of `values` (any order). Non-finite values are ignored.
    pub fn from_values(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        LatencyStats {
            count: v.len(),
            median_s: median_sorted(&v),
            p95_s: percentile_nearest_rank_sorted(&v, 95.0),
        }
    }
}

/// Median of sorted values: the middle one, or the mean of the two middle ones.
fn median_sorted(v: &[f64]) -> Option<f64> {
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Nearest-rank percentile of sorted values: the `⌈p/100·n⌉`-th smallest.
fn percentile_nearest_rank_sorted(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// Counts and rates of one label at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdStats {
    /// The threshold.
    pub threshold: f32,
    /// Positive utterances.
    pub positives: usize,
    /// Positive utterances detected.
    pub hits: usize,
    /// Positive utterances not detected.
    pub misses: usize,
    /// Events that match no positive utterance.
    pub false_alarms: usize,
    /// Hours of background (negative) material for this label.
    pub background_hours: f64,
    /// misses / positives; `None` without positives.
    pub miss_rate: Option<f64>,
    /// false alarms / background hours; `None` without background.
    pub fa_per_hour: Option<f64>,
    /// Latency of the hits.
    pub latency: LatencyStats,
}

/// One point of a DET curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetPoint {
    /// The threshold (an event score).
    pub threshold: f32,
    /// Positive utterances detected.
    pub hits: usize,
    /// False alarms.
    pub false_alarms: usize,
    /// misses / positives; `None` without positives.
    pub miss_rate: Option<f64>,
    /// false alarms / background hours; `None` without background.
    pub fa_per_hour: Option<f64>,
}

/// The best operating point for a target false-alarm rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaTargetResult {
    /// The target, in false alarms per hour.
    pub target_fa_per_hour: f64,
    /// The point with the lowest miss rate among those at or under the
    /// target (highest threshold among ties); `None` when no candidate
    /// threshold reaches the target, or without positives or background.
    pub point: Option<DetPoint>,
}

/// Everything reported for one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSummary {
    /// The label.
    pub label: String,
    /// Positive utterances.
    pub positives: usize,
    /// Hours of background material for this label.
    pub background_hours: f64,
    /// Counts, rates and latency at the model's default threshold.
    pub at_default_threshold: ThresholdStats,
    /// Miss rate at each target false-alarm rate.
    pub at_fa_targets: Vec<FaTargetResult>,
}

/// One positive utterance of a label.
#[derive(Debug, Clone)]
struct Utterance {
    /// End of the utterance (for latency), if known.
    end_s: Option<f64>,
    /// Matching events `(time_s, score)`, sorted by time.
    events: Vec<(f64, f32)>,
    /// Highest score among `events` (−∞ without events).
    best: f32,
}

/// Precomputed per-label data.
#[derive(Debug, Clone)]
struct LabelData {
    label: String,
    utterances: Vec<Utterance>,
    /// Best score per utterance that has events, descending.
    best_desc: Vec<f32>,
    /// Scores of the events that match no utterance, descending.
    fa_desc: Vec<f32>,
    /// Every distinct event score of the label, descending.
    scores_desc: Vec<f32>,
    background_s: f64,
}

/// Number of leading values `≥ t` in a descending slice.
fn count_at_least(desc: &[f32], t: f32) -> usize {
    desc.partition_point(|&x| x >= t)
}

/// Total length of the union of `intervals`, clipped to `[0, limit]`.
fn union_length(mut intervals: Vec<(f64, f64)>, limit: f64) -> f64 {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (s, e) in intervals {
        let (s, e) = (s.clamp(0.0, limit), e.clamp(0.0, limit));
        if e <= s {
            continue;
        }
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

/// Candidate events scored against the truth, ready to be queried at any
/// threshold.
///
/// **Caveat for sweeps.** The detector groups frames into events and applies
/// its refractory period relative to its own threshold: an event ends at
/// most `max_event_frames` after the score crossed the threshold, and the
/// label re-arms only once the score falls below it. Scoring the events of a
/// run at a low candidate threshold at a higher `T` therefore approximates,
/// but does not reproduce, a run at `T`: a peak reached after the candidate
/// event closed is lost in its refractory period, and event times are
/// earlier. On the shared keyword corpus the difference is large (e.g. 241
/// against 285 of 285 "computer" clips detected at the default threshold),
/// so exact operating points need one run per threshold
/// ([`ThresholdRuns`]); an `Evaluation` of a run at `T` scored at `T` is
/// exact.
#[derive(Debug, Clone)]
pub struct Evaluation {
    config: EvalConfig,
    labels: Vec<LabelData>,
    n_sources: usize,
    total_s: f64,
}

impl Evaluation {
    /// Score `events` against `sources` for each of `labels`. Events of
    /// other labels are ignored. Refuses non-finite or negative times and
    /// durations, events naming a missing source, empty or duplicate
    /// labels, and spans with `end_s < start_s`.
    pub fn new(
        labels: &[String],
        sources: &[Source],
        events: &[ScoredEvent],
        config: EvalConfig,
    ) -> Result<Self, EvalError> {
        let invalid = |s: String| Err(EvalError::Invalid(s));
        if !(config.tolerance_s.is_finite() && config.tolerance_s >= 0.0) {
            return invalid(format!(
                "tolerance {} s must be finite and non-negative",
                config.tolerance_s
            ));
        }
        if labels.is_empty() {
            return invalid("no label to evaluate".into());
        }
        let mut index = BTreeMap::new();
        for (i, l) in labels.iter().enumerate() {
            if index.insert(l.as_str(), i).is_some() {
                return invalid(format!("label {l:?} given twice"));
            }
        }
        for s in sources {
            if !(s.duration_s.is_finite() && s.duration_s >= 0.0) {
                return invalid(format!("{}: duration {} s", s.name, s.duration_s));
            }
            match &s.truth {
                Truth::Clip { speech_end_s, .. } => {
                    if speech_end_s.is_some_and(|e| !e.is_finite()) {
                        return invalid(format!("{}: non-finite speech end", s.name));
                    }
                }
                Truth::Stream { spans } => {
                    for sp in spans {
                        if !(sp.start_s.is_finite()
                            && sp.end_s.is_finite()
                            && sp.start_s >= 0.0
                            && sp.end_s >= sp.start_s)
                        {
                            return invalid(format!(
                                "{}: span {} {}..{} s",
                                s.name, sp.label, sp.start_s, sp.end_s
                            ));
                        }
                    }
                }
            }
        }
        // events_by[label][source] = (time, score)
        let mut events_by: Vec<Vec<Vec<(f64, f32)>>> =
            vec![vec![Vec::new(); sources.len()]; labels.len()];
        for e in events {
            if e.source >= sources.len() {
                return invalid(format!(
                    "event of {} names source {} but there are {} sources",
                    e.label,
                    e.source,
                    sources.len()
                ));
            }
            if !(e.score.is_finite() && e.time_s.is_finite()) {
                return invalid(format!(
                    "{}: event of {} has score {} at {} s",
                    sources[e.source].name, e.label, e.score, e.time_s
                ));
            }
            if let Some(&l) = index.get(e.label.as_str()) {
                events_by[l][e.source].push((e.time_s, e.score));
            }
        }
        let data = labels
            .iter()
            .zip(events_by)
            .map(|(label, by_source)| {
                Self::label_data(label, sources, by_source, config.tolerance_s)
            })
            .collect();
        Ok(Evaluation {
            config,
            labels: data,
            n_sources: sources.len(),
            total_s: sources.iter().map(|s| s.duration_s).sum(),
        })
    }

    fn label_data(
        label: &str,
        sources: &[Source],
        by_source: Vec<Vec<(f64, f32)>>,
        tolerance_s: f64,
    ) -> LabelData {
        let mut utterances = Vec::new();
        let mut fa = Vec::new();
        let mut all_scores = Vec::new();
        let mut background_s = 0.0;
        for (source, mut evs) in sources.iter().zip(by_source) {
            evs.sort_by(|a, b| a.0.total_cmp(&b.0));
            all_scores.extend(evs.iter().map(|e| e.1));
            match &source.truth {
                Truth::Clip {
                    label: Some(l),
                    speech_end_s,
                } if l == label => utterances.push(Utterance {
                    end_s: *speech_end_s,
                    events: evs,
                    best: f32::NEG_INFINITY,
                }),
                Truth::Clip { .. } => {
                    background_s += source.duration_s;
                    fa.extend(evs.iter().map(|e| e.1));
                }
                Truth::Stream { spans } => {
                    let windows: Vec<(f64, f64)> = spans
                        .iter()
                        .filter(|s| s.label == label)
                        .map(|s| (s.start_s, s.end_s + tolerance_s))
                        .collect();
                    let first = utterances.len();
                    utterances.extend(spans.iter().filter(|s| s.label == label).map(|s| {
                        Utterance {
                            end_s: Some(s.end_s),
                            events: Vec::new(),
                            best: f32::NEG_INFINITY,
                        }
                    }));
                    for &(t, score) in &evs {
                        let mut matched = false;
                        for (u, &(ws, we)) in utterances[first..].iter_mut().zip(&windows) {
                            if t >= ws && t <= we {
                                u.events.push((t, score));
                                matched = true;
                            }
                        }
                        if !matched {
                            fa.push(score);
                        }
                    }
                    background_s +=
                        (source.duration_s - union_length(windows, source.duration_s)).max(0.0);
                }
            }
        }
        for u in &mut utterances {
            u.best = u
                .events
                .iter()
                .map(|e| e.1)
                .fold(f32::NEG_INFINITY, f32::max);
        }
        let desc = |v: &mut Vec<f32>| v.sort_by(|a, b| b.total_cmp(a));
        let mut best_desc: Vec<f32> = utterances
            .iter()
            .map(|u| u.best)
            .filter(|b| b.is_finite())
            .collect();
        desc(&mut best_desc);
        desc(&mut fa);
        desc(&mut all_scores);
        all_scores.dedup();
        LabelData {
            label: label.to_string(),
            utterances,
            best_desc,
            fa_desc: fa,
            scores_desc: all_scores,
            background_s,
        }
    }

    /// The evaluated labels, in the order given.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|d| d.label.as_str())
    }

    /// The options used.
    pub fn config(&self) -> EvalConfig {
        self.config
    }

    /// Number of sources.
    pub fn n_sources(&self) -> usize {
        self.n_sources
    }

    /// Total duration of all sources, in hours.
    pub fn total_hours(&self) -> f64 {
        self.total_s / 3600.0
    }

    fn data(&self, label: &str) -> Result<&LabelData, EvalError> {
        self.labels
            .iter()
            .find(|d| d.label == label)
            .ok_or_else(|| EvalError::UnknownLabel(label.to_string()))
    }

    /// Positive utterances of `label`.
    pub fn positives(&self, label: &str) -> Result<usize, EvalError> {
        Ok(self.data(label)?.utterances.len())
    }

    /// Hours of background material for `label`.
    pub fn background_hours(&self, label: &str) -> Result<f64, EvalError> {
        Ok(self.data(label)?.background_s / 3600.0)
    }

    fn point(d: &LabelData, threshold: f32) -> DetPoint {
        let hits = count_at_least(&d.best_desc, threshold);
        let false_alarms = count_at_least(&d.fa_desc, threshold);
        let positives = d.utterances.len();
        DetPoint {
            threshold,
            hits,
            false_alarms,
            miss_rate: (positives > 0).then(|| (positives - hits) as f64 / positives as f64),
            fa_per_hour: (d.background_s > 0.0)
                .then(|| false_alarms as f64 / (d.background_s / 3600.0)),
        }
    }

    /// Counts, rates and latency of `label` at `threshold` (finite).
    pub fn at_threshold(&self, label: &str, threshold: f32) -> Result<ThresholdStats, EvalError> {
        if !threshold.is_finite() {
            return Err(EvalError::Invalid(format!("threshold {threshold}")));
        }
        let d = self.data(label)?;
        let p = Self::point(d, threshold);
        let latencies: Vec<f64> = d
            .utterances
            .iter()
            .filter_map(|u| {
                let end = u.end_s?;
                let (t, _) = u.events.iter().find(|e| e.1 >= threshold)?;
                Some(t - end)
            })
            .collect();
        Ok(ThresholdStats {
            threshold,
            positives: d.utterances.len(),
            hits: p.hits,
            misses: d.utterances.len() - p.hits,
            false_alarms: p.false_alarms,
            background_hours: d.background_s / 3600.0,
            miss_rate: p.miss_rate,
            fa_per_hour: p.fa_per_hour,
            latency: LatencyStats::from_values(&latencies),
        })
    }

    /// The DET curve of `label`: one point per distinct event score, from
    /// the highest threshold down (false alarms rising, misses falling).
    pub fn det_curve(&self, label: &str) -> Result<Vec<DetPoint>, EvalError> {
        let d = self.data(label)?;
        Ok(d.scores_desc.iter().map(|&t| Self::point(d, t)).collect())
    }

    /// The lowest miss rate of `label` at no more than `target` false alarms
    /// per hour (see the module documentation).
    pub fn at_fa_target(&self, label: &str, target: f64) -> Result<FaTargetResult, EvalError> {
        if !(target.is_finite() && target >= 0.0) {
            return Err(EvalError::Invalid(format!("target {target} FA/h")));
        }
        Ok(best_under_target(self.det_curve(label)?, target))
    }

    /// The report of `label`: counts and latency at `default_threshold`,
    /// miss rate at each of `targets` (false alarms per hour).
    pub fn summary(
        &self,
        label: &str,
        default_threshold: f32,
        targets: &[f64],
    ) -> Result<LabelSummary, EvalError> {
        let at_default = self.at_threshold(label, default_threshold)?;
        Ok(LabelSummary {
            label: label.to_string(),
            positives: at_default.positives,
            background_hours: at_default.background_hours,
            at_fa_targets: targets
                .iter()
                .map(|&t| self.at_fa_target(label, t))
                .collect::<Result<_, _>>()?,
            at_default_threshold: at_default,
        })
    }
}

/// The point with the lowest miss rate among `points` (ordered from the
/// highest threshold down) whose FA/h is at most `target`; the first (highest
/// threshold) among ties.
fn best_under_target(points: Vec<DetPoint>, target: f64) -> FaTargetResult {
    let mut best: Option<DetPoint> = None;
    for p in points {
        let (Some(miss), Some(fa)) = (p.miss_rate, p.fa_per_hour) else {
            continue;
        };
        if fa > target {
            continue;
        }
        if best
            .as_ref()
            .and_then(|b| b.miss_rate)
            .is_none_or(|b| miss < b)
        {
            best = Some(p);
        }
    }
    FaTargetResult {
        target_fa_per_hour: target,
        point: best,
    }
}

/// Operating points measured by separate detector runs, one per threshold:
/// run `i`'s events were collected with every label's threshold at `t_i`,
/// and it is scored at `t_i` only. Unlike the sweep over one run's candidate
/// events ([`Evaluation::det_curve`]), each point is exactly what a detector
/// at that threshold reports. All runs must cover the same sources and
/// labels.
#[derive(Debug, Clone)]
pub struct ThresholdRuns {
    /// `(threshold, evaluation of that run's events)`, highest threshold first.
    runs: Vec<(f32, Evaluation)>,
}

impl ThresholdRuns {
    /// Gather runs; refuses an empty list, non-finite or repeated
    /// thresholds, and runs over different sources.
    pub fn new(mut runs: Vec<(f32, Evaluation)>) -> Result<Self, EvalError> {
        let invalid = |s: String| Err(EvalError::Invalid(s));
        let Some((_, first)) = runs.first() else {
            return invalid("no detector run".into());
        };
        let (n, hours) = (first.n_sources(), first.total_hours());
        for (t, e) in &runs {
            if !t.is_finite() {
                return invalid(format!("run threshold {t}"));
            }
            if e.n_sources() != n || (e.total_hours() - hours).abs() > 1e-9 {
                return invalid(format!("the run at {t} covers other sources"));
            }
        }
        runs.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let Some(w) = runs.windows(2).find(|w| w[0].0 == w[1].0) {
            return invalid(format!("threshold {} given twice", w[0].0));
        }
        Ok(ThresholdRuns { runs })
    }

    /// The thresholds, highest first.
    pub fn thresholds(&self) -> Vec<f32> {
        self.runs.iter().map(|r| r.0).collect()
    }

    /// The DET curve of `label`: one point per run, from the highest
    /// threshold down.
    pub fn det_curve(&self, label: &str) -> Result<Vec<DetPoint>, EvalError> {
        self.runs
            .iter()
            .map(|(t, e)| {
                let s = e.at_threshold(label, *t)?;
                Ok(DetPoint {
                    threshold: *t,
                    hits: s.hits,
                    false_alarms: s.false_alarms,
                    miss_rate: s.miss_rate,
                    fa_per_hour: s.fa_per_hour,
                })
            })
            .collect()
    }

    /// The lowest miss rate of `label` over the runs with at most `target`
    /// false alarms per hour (highest threshold among ties); `None` if no run
    /// reaches the target.
    pub fn at_fa_target(&self, label: &str, target: f64) -> Result<FaTargetResult, EvalError> {
        if !(target.is_finite() && target >= 0.0) {
            return Err(EvalError::Invalid(format!("target {target} FA/h")));
        }
        Ok(best_under_target(self.det_curve(label)?, target))
    }
}

/// Options of the energy voice-activity detector ([`speech_bounds`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Analysis frame length in ms. Default: 20.
    pub frame_ms: f64,
    /// Frame hop in ms. Default: 10.
    pub hop_ms: f64,
    /// Frames at or below this energy (dBFS) are digital silence (padding)
    /// and are left out when estimating the floor. Default: −90 dB.
    pub silence_db: f64,
    /// The noise floor is this quantile of the (non-silent) frame energies.
    /// Default: 0.1.
    pub floor_quantile: f64,
    /// If the loudest frame is less than this many dB above the floor, no
    /// speech is found. Default: 10 dB.
    pub min_range_db: f64,
    /// A frame is loud if its energy is above both
    /// `floor + threshold_fraction × (peak − floor)` and
    /// `peak − max_below_peak_db` (in dB). Default: 0.35.
    pub threshold_fraction: f64,
    /// See `threshold_fraction`. Default: 30 dB.
    pub max_below_peak_db: f64,
    /// Speech is a run of at least this many consecutive loud frames;
    /// shorter runs (clicks) are ignored. Default: 5 (60 ms with the
    /// default frame and hop).
    pub min_run_frames: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            frame_ms: 20.0,
            hop_ms: 10.0,
            silence_db: -90.0,
            floor_quantile: 0.1,
            min_range_db: 10.0,
            threshold_fraction: 0.35,
            max_below_peak_db: 30.0,
            min_run_frames: 5,
        }
    }
}

/// Where the speech is in a clip, by frame energy: `(start_s, end_s)` from
/// the start of the first to the end of the last run of loud frames (see
/// [`VadConfig`]), or `None` when the clip is too short for one frame, the
/// options are invalid, or nothing stands out from the floor (silence,
/// steady noise, clicks only, or speech from end to end).
///
/// Energy is `10·log10(mean(x²) + 1e-10)` per frame, `x` in `[-1, 1]`.
/// Deliberately simple: a breath or a noise after the word that is loud and
/// long enough moves the end later.
pub fn speech_bounds(samples: &[f32], sample_rate: u32, config: &VadConfig) -> Option<(f64, f64)> {
    let rate = f64::from(sample_rate);
    let frame = (config.frame_ms / 1000.0 * rate).round();
    let hop = (config.hop_ms / 1000.0 * rate).round();
    if !(frame >= 1.0 && hop >= 1.0 && frame.is_finite() && hop.is_finite()) {
        return None;
    }
    let (frame, hop) = (frame as usize, hop as usize);
    if samples.len() < frame {
        return None;
    }
    let energies: Vec<f64> = (0..=(samples.len() - frame) / hop)
        .map(|i| {
            let f = &samples[i * hop..i * hop + frame];
            let power = f.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / frame as f64;
            10.0 * (power + 1e-10).log10()
        })
        .collect();
    let mut sorted: Vec<f64> = energies
        .iter()
        .copied()
        .filter(|&e| e > config.silence_db)
        .collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let q = config.floor_quantile.clamp(0.0, 1.0);
    let floor = sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let peak = *sorted.last()?;
    let range = peak - floor;
    if range.is_nan() || config.min_range_db.is_nan() || range < config.min_range_db {
        return None;
    }
    let threshold =
        (floor + config.threshold_fraction * range).max(peak - config.max_below_peak_db);
    // Runs of loud frames, as [first, last] frame indices.
    let mut bounds: Option<(usize, usize)> = None;
    let mut run_start = None;
    for (i, &e) in energies
        .iter()
        .chain([f64::NEG_INFINITY].iter())
        .enumerate()
    {
        match (e > threshold, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= config.min_run_frames.max(1) {
                    bounds = Some(bounds.map_or((start, i - 1), |(a, _)| (a, i - 1)));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    let (first, last) = bounds?;
    Some((
        (first * hop) as f64 / rate,
        ((last * hop + frame) as f64 / rate).min(samples.len() as f64 / rate),
    ))
}

/// Checks applied while parsing annotations.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnnotationCheck<'a> {
    /// Labels allowed (e.g. the model's). Default: `None`, any label.
    pub known_labels: Option<&'a [String]>,
    /// Duration of the recording the annotations belong to, in seconds: a
    /// span starting at or after it, or ending more than 1 ms after it, is
    /// refused. Default: `None`, not checked.
    pub duration_s: Option<f64>,
}

/// Format of an annotation file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationFormat {
    /// `label,start,end` header, one utterance per line.
    Csv,
    /// An array of `{"label": .., "start": .., "end": ..}` objects.
    Json,
}

impl AnnotationFormat {
    /// By extension (`.csv`, `.json`, case-insensitive), else by content
    /// (JSON if the first non-blank character is `[`).
    pub fn detect(path: &Path, text: &str) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => AnnotationFormat::Json,
            Some("csv") => AnnotationFormat::Csv,
            _ if text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('[') =>
            {
                AnnotationFormat::Json
            }
            _ => AnnotationFormat::Csv,
        }
    }
}

/// Read and parse an annotation file (format by [`AnnotationFormat::detect`]).
pub fn read_annotations(path: &Path, check: &AnnotationCheck<'_>) -> Result<Vec<Span>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_annotations(path, &text, AnnotationFormat::detect(path, &text), check)
}

/// Check one span; the error text has no location.
fn check_span(span: &Span, check: &AnnotationCheck<'_>) -> Result<(), String> {
    if span.label.is_empty() {
        return Err("empty label".into());
    }
    if let Some(known) = check.known_labels
        && !known.contains(&span.label)
    {
        return Err(format!(
            "label {:?} is not a label of the model (labels: {})",
            span.label,
            known.join(", ")
        ));
    }
    if !(span.start_s.is_finite() && span.end_s.is_finite()) {
        return Err("start and end must be finite numbers".into());
    }
    if span.start_s < 0.0 {
        return Err(format!("start {} s is negative", span.start_s));
    }
    if span.end_s < span.start_s {
        return Err(format!(
            "end {} s is before start {} s",
            span.end_s, span.start_s
        ));
    }
    if let Some(d) = check.duration_s {
        if span.start_s >= d {
            return Err(format!(
                "start {} s is at or after the end of the recording ({d:.3} s)",
                span.start_s
            ));
        }
        if span.end_s > d + 1e-3 {
            return Err(format!(
                "end {} s is after the end of the recording ({d:.3} s)",
                span.end_s
            ));
        }
    }
    Ok(())
}

/// Parse annotation text; `path` is only used in errors.
pub fn parse_annotations(
    path: &Path,
    text: &str,
    format: AnnotationFormat,
    check: &AnnotationCheck<'_>,
) -> Result<Vec<Span>, EvalError> {
    let text = text.trim_start_matches('\u{feff}');
    match format {
        AnnotationFormat::Csv => parse_csv(path, text, check),
        AnnotationFormat::Json => parse_json(path, text, check),
    }
}

fn parse_csv(path: &Path, text: &str, check: &AnnotationCheck<'_>) -> Result<Vec<Span>, EvalError> {
    let err = |line: usize, reason: String| EvalError::Annotation {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut columns: Option<[usize; 3]> = None;
    let mut width = 0;
    let mut spans = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = raw
            .split(',')
            .map(|f| f.trim().trim_matches('"').trim())
            .collect();
        let Some(cols) = columns else {
            let find = |name: &str, alt: &str| {
                fields
                    .iter()
                    .position(|f| f.eq_ignore_ascii_case(name) || f.eq_ignore_ascii_case(alt))
            };
            match (
                find("label", "label"),
                find("start", "start_s"),
                find("end", "end_s"),
            ) {
                (Some(l), Some(s), Some(e)) => {
                    columns = Some([l, s, e]);
                    width = fields.len();
                    continue;
                }
                _ => {
                    return Err(err(
                        line,
                        format!(
                            "expected a header naming the columns label,start,end, found {raw:?}"
                        ),
                    ));
                }
            }
        };
        if fields.len() != width {
            return Err(err(
                line,
                format!("{} fields, the header has {width}", fields.len()),
            ));
        }
        let number = |col: usize, name: &str| {
            fields[col]
                .parse::<f64>()
                .map_err(|_| err(line, format!("{name} {:?} is not a number", fields[col])))
        };
        let span = Span {
            label: fields[cols[0]].to_string(),
            start_s: number(cols[1], "start")?,
            end_s: number(cols[2], "end")?,
        };
        check_span(&span, check).map_err(|r| err(line, r))?;
        spans.push(span);
    }
    if columns.is_none() {
        return Err(err(
            1,
            "empty file: expected a label,start,end header".into(),
        ));
    }
    Ok(spans)
}

/// Deserializes the array of annotation objects.
struct SpansSeed<'a, 'b> {
    check: &'a AnnotationCheck<'b>,
}

impl<'de> serde::de::DeserializeSeed<'de> for SpansSeed<'_, '_> {
    type Value = Vec<Span>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for SpansSeed<'_, '_> {
    type Value = Vec<Span>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of {\"label\", \"start\", \"end\"} objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Span>, A::Error> {
        let mut spans = Vec::new();
        while let Some(span) = seq.next_element_seed(SpanSeed {
            check: self.check,
            index: spans.len() + 1,
        })? {
            spans.push(span);
        }
        Ok(spans)
    }
}

/// Deserializes and checks one annotation object. The check runs inside the
/// object's map visitor, so serde_json reports the position of the object
/// (just after its closing brace) rather than a later one.
struct SpanSeed<'a, 'b> {
    check: &'a AnnotationCheck<'b>,
    /// 1-based position in the array, for messages.
    index: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for SpanSeed<'_, '_> {
    type Value = Span;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for SpanSeed<'_, '_> {
    type Value = Span;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with \"label\", \"start\" and \"end\"")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Span, A::Error> {
        use serde::de::Error as _;
        let (mut label, mut start, mut end) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "label" => label = Some(map.next_value::<String>()?),
                "start" | "start_s" => start = Some(map.next_value::<f64>()?),
                "end" | "end_s" => end = Some(map.next_value::<f64>()?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let missing = |field| {
            A::Error::custom(format!(
                "annotation {}: missing field `{field}`",
                self.index
            ))
        };
        let span = Span {
            label: label.ok_or_else(|| missing("label"))?,
            start_s: start.ok_or_else(|| missing("start"))?,
            end_s: end.ok_or_else(|| missing("end"))?,
        };
        check_span(&span, self.check)
            .map_err(|r| A::Error::custom(format!("annotation {}: {r}", self.index)))?;
        Ok(span)
    }
}

fn parse_json(
    path: &Path,
    text: &str,
    check: &AnnotationCheck<'_>,
) -> Result<Vec<Span>, EvalError> {
    use serde::de::DeserializeSeed;
    let to_err = |e: serde_json::Error| {
        let msg = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        EvalError::Annotation {
            path: path.to_path_buf(),
            line: e.line().max(1),
            reason: msg.strip_suffix(&suffix).unwrap_or(&msg).to_string(),
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let spans = SpansSeed { check }.deserialize(&mut de).map_err(to_err)?;
    de.end().map_err(to_err)?;
    Ok(spans)
}

/// Annotations as CSV text (`label,start,end` header, times in seconds with
/// millisecond precision), readable by [`parse_annotations`].
pub fn annotations_to_csv(spans: &[Span]) -> String {
    let mut out = String::from("label,start,end\n");
    for s in spans {
        out.push_str(&format!("{},{:.3},{:.3}\n", s.label, s.start_s, s.end_s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(label: Option<&str>, duration_s: f64, end: Option<f64>) -> Source {
        Source {
            name: "clip".into(),
            duration_s,
            truth: Truth::Clip {
                label: label.map(String::from),
                speech_end_s: end,
            },
        }
    }

    fn ev(label: &str, score: f32, time_s: f64, source: SourceId) -> ScoredEvent {
        ScoredEvent {
            label: label.into(),
            score,
            time_s,
            source,
        }
    }

    #[test]
    fn percentiles() {
        let s = LatencyStats::from_values(&[0.4, 0.1, 0.3, 0.2]);
        assert_eq!(s.count, 4);
        assert!((s.median_s.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(s.p95_s, Some(0.4));
        let s = LatencyStats::from_values(&[]);
        assert_eq!((s.count, s.median_s, s.p95_s), (0, None, None));
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = LatencyStats::from_values(&v);
        assert_eq!(s.p95_s, Some(19.0)); // ceil(0.95 * 20) = 19th
        assert_eq!(s.median_s, Some(10.5));
    }

    #[test]
    fn union_of_windows() {
        assert_eq!(union_length(vec![], 10.0), 0.0);
        assert_eq!(
            union_length(vec![(1.0, 3.0), (2.0, 4.0), (6.0, 7.0)], 10.0),
            4.0
        );
        assert_eq!(union_length(vec![(9.0, 12.0), (-1.0, 1.0)], 10.0), 2.0);
    }

    #[test]
    fn clip_metrics_and_det_sweep() {
        let labels = vec!["a".to_string()];
        let sources = vec![
            clip(Some("a"), 1.0, Some(0.5)),
            clip(Some("a"), 1.0, Some(0.5)),
            clip(None, 1800.0, None),
        ];
        let events = vec![
            ev("a", 0.9, 0.6, 0),
            ev("a", 0.3, 0.7, 1),
            ev("a", 0.5, 10.0, 2),
            ev("b", 0.99, 1.0, 2), // other label: ignored
        ];
        let e = Evaluation::new(&labels, &sources, &events, EvalConfig::default()).unwrap();
        assert_eq!(e.positives("a").unwrap(), 2);
        assert!((e.background_hours("a").unwrap() - 0.5).abs() < 1e-12);
        let s = e.at_threshold("a", 0.4).unwrap();
        assert_eq!((s.hits, s.misses, s.false_alarms), (1, 1, 1));
        assert_eq!(s.fa_per_hour, Some(2.0));
        assert_eq!(s.miss_rate, Some(0.5));
        let det = e.det_curve("a").unwrap();
        let thr: Vec<f32> = det.iter().map(|p| p.threshold).collect();
        assert_eq!(thr, vec![0.9, 0.5, 0.3]);
        let r = e.at_fa_target("a", 1.0).unwrap();
        assert_eq!(r.point.unwrap().threshold, 0.9);
        let r = e.at_fa_target("a", 2.0).unwrap();
        assert_eq!(r.point.as_ref().unwrap().threshold, 0.3);
        assert_eq!(r.point.unwrap().miss_rate, Some(0.0));
        assert!(matches!(
            e.at_threshold("zz", 0.5),
            Err(EvalError::UnknownLabel(_))
        ));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let labels = vec!["a".to_string()];
        let sources = vec![clip(None, 1.0, None)];
        let cfg = EvalConfig::default();
        assert!(Evaluation::new(&labels, &sources, &[ev("a", 0.5, 0.1, 1)], cfg).is_err());
        assert!(Evaluation::new(&labels, &sources, &[ev("a", f32::NAN, 0.1, 0)], cfg).is_err());
        assert!(Evaluation::new(&[], &sources, &[], cfg).is_err());
        let twice = vec!["a".to_string(), "a".to_string()];
        assert!(Evaluation::new(&twice, &sources, &[], cfg).is_err());
        let bad_tol = EvalConfig { tolerance_s: -1.0 };
        assert!(Evaluation::new(&labels, &sources, &[], bad_tol).is_err());
    }

    #[test]
    fn vad_finds_a_tone_in_silence() {
        let rate = 16_000;
        let mut x = vec![0.0f32; rate as usize * 2];
        for (i, s) in x[8000..16000].iter_mut().enumerate() {
            *s = 0.3 * (i as f32 * 0.1).sin();
        }
        // Faint noise so the floor is not -100 dB.
        let mut state = 1u32;
        for s in x.iter_mut() {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s += ((state >> 16) as f32 / 65536.0 - 0.5) * 1e-3;
        }
        let (a, b) = speech_bounds(&x, rate, &VadConfig::default()).unwrap();
        assert!((a - 0.49).abs() < 0.02, "{a}");
        assert!((b - 1.0).abs() < 0.02, "{b}");
        // A 5 ms click after the tone and digital silence around it change nothing.
        for s in x[24000..24080].iter_mut() {
            *s = 0.5;
        }
        let mut padded = vec![0.0f32; 8000];
        padded.extend_from_slice(&x);
        padded.extend(vec![0.0f32; 8000]);
        let (c, d) = speech_bounds(&padded, rate, &VadConfig::default()).unwrap();
        assert!((c - 0.99).abs() < 0.02, "{c}");
        assert!((d - 1.5).abs() < 0.02, "{d}");
        assert_eq!(speech_bounds(&x[..10], rate, &VadConfig::default()), None);
        assert_eq!(
            speech_bounds(&vec![0.1; 16000], rate, &VadConfig::default()),
            None
        );
    }

    #[test]
    fn csv_and_json_parse_and_round_trip() {
        let p = Path::new("a.csv");
        let text = "# comment\nlabel,start,end\ncomputer,1.5,2.25\n\njarvis, 3 ,4\n";
        let spans =
            parse_annotations(p, text, AnnotationFormat::Csv, &AnnotationCheck::default()).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[1].start_s, 3.0);
        let again = parse_annotations(
            p,
            &annotations_to_csv(&spans),
            AnnotationFormat::Csv,
            &AnnotationCheck::default(),
        )
        .unwrap();
        assert_eq!(again, spans);
        let json = r#"[{"label": "computer", "start": 1.5, "end": 2.25},
                       {"label": "jarvis", "start_s": 3, "end_s": 4, "speaker": "x"}]"#;
        let j = Path::new("a.json");
        assert_eq!(
            AnnotationFormat::detect(Path::new("x"), json),
            AnnotationFormat::Json
        );
        let from_json =
            parse_annotations(j, json, AnnotationFormat::Json, &AnnotationCheck::default())
                .unwrap();
        assert_eq!(from_json, spans);
    }

    #[test]
    fn annotation_errors_name_file_and_line() {
        let p = Path::new("dir/ann.csv");
        let known = vec!["computer".to_string()];
        let check = AnnotationCheck {
            known_labels: Some(&known),
            duration_s: Some(10.0),
        };
        let cases = [
            (
                "label,start,end\ncomputer,1,2\ncomputer,x,2\n",
                3,
                "not a number",
            ),
            ("label,start,end\ncomputer,1,2,3\n", 2, "fields"),
            ("start,end\n", 1, "header"),
            ("", 1, "empty"),
            ("label,start,end\n\ncomputer,3,2\n", 3, "before start"),
            (
                "label,start,end\nalexa,1,2\n",
                2,
                "not a label of the model",
            ),
            (
                "label,start,end\ncomputer,11,12\n",
                2,
                "end of the recording",
            ),
        ];
        for (text, line, what) in cases {
            let e = parse_annotations(p, text, AnnotationFormat::Csv, &check).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, EvalError::Annotation { line: l, .. } if l == line),
                "{text:?}: {msg}"
            );
            assert!(msg.contains("dir/ann.csv") && msg.contains(what), "{msg}");
        }
        let j = Path::new("ann.json");
        let cases = [
            (
                "[\n{\"label\": \"computer\", \"start\": 1, \"end\": 2},\n{\"label\": \"computer\", \"start\": 1}\n]",
                3,
                "end",
            ),
            (
                "[\n{\"label\": \"computer\", \"start\": 1, \"end\": 2},\n\n{\"label\": \"alexa\", \"start\": 1, \"end\": 2}\n]",
                4,
                "alexa",
            ),
            (
                "[\n{\"label\": \"computer\", \"start\": 1, \"end\": 2},\n",
                3,
                "EOF",
            ),
            ("{\"label\": \"computer\"}", 1, "array"),
            ("[] trailing", 1, "trailing"),
        ];
        for (text, line, what) in cases {
            let e = parse_annotations(j, text, AnnotationFormat::Json, &check).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, EvalError::Annotation { line: l, .. } if l == line),
                "{text:?}: {msg}"
            );
            assert!(msg.contains("ann.json") && msg.contains(what), "{msg}");
        }
        let missing = read_annotations(Path::new("/nonexistent/x.csv"), &check).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/x.csv"));
    }
}
