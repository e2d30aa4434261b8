//! Measure miss rate against false alarms per hour on labeled WAV recordings.
//!
//! ```text
//! cargo run --release --example evaluate -- corpus DIR [DIR...] [--out DIR]
//! cargo run --release --example evaluate -- stream FILE.wav --annotations FILE.csv [FILE.wav --annotations FILE.json ...]
//! cargo run --release --example evaluate -- stream --list LIST.csv
//! cargo run --release --example evaluate -- make-stream --positives DIR --background DIR [--noise DIR] --snr 10 --seed 1 --minutes 10 --out stream.wav
//! cargo run --release --example evaluate -- --help
//! ```
//!
//! `corpus` and `stream` run the detector once per threshold of the grid
//! (`--thresholds`) and once at the model's own thresholds, score the
//! events with `wakeguard::eval`, and write `report.json`, `summary.md` and
//! `det.svg` into `--out` (default `eval_out/`); the Markdown summary is
//! printed too. The single-run sweep over the events of a low
//! `--candidate-threshold` run is kept in `report.json` as an approximation. `make-stream` builds a
//! long annotated test recording from clips. Every option is documented by
//! `--help`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use wakeguard::SAMPLE_RATE;
use wakeguard::audio::{open_wav, read_wav};
use wakeguard::detector::{Detector, DetectorConfig};
use wakeguard::eval::{
    AnnotationCheck, DEFAULT_FA_TARGETS, DetPoint, EvalConfig, Evaluation, LabelSummary,
    ScoredEvent, Source, Span, ThresholdRuns, Truth, VadConfig, annotations_to_csv,
    read_annotations, speech_bounds,
};
use wakeguard::model::KeywordModel;

type Res<T> = Result<T, String>;

#[derive(Parser, Debug)]
#[command(
    name = "evaluate",
    about = "Measure wakeguard's miss rate against false alarms per hour on labeled WAV recordings",
    long_about = "Measure wakeguard's miss rate against false alarms per hour on labeled WAV recordings.\n\n\
Every file is run through the detector once per threshold of --thresholds (and once at the \
model's own per-label thresholds), and the events of each run are scored against the truth: a \
detector's events at a high threshold are not the low-threshold events filtered by score, \
because events are grouped per threshold. Per label: hits, misses, \
false alarms, hours of background, miss rate at 0.1 / 0.5 / 1 false alarms per hour (with the \
threshold that achieves it), miss rate and FA/h at the model's default threshold, and latency \
(event time minus end of the word: median, 95th percentile).\n\n\
Outputs (in --out): report.json (machines), summary.md (humans; also printed), det.svg \
(miss rate against false alarms per hour, log axes, one line per label, the default \
threshold's operating point marked).\n\n\
Audio must be 16 kHz mono WAV (8/16/24/32-bit integer or 32-bit float).",
    after_help = "Examples:\n  \
evaluate corpus corpora/keywords corpora/commands --out eval_kw\n  \
evaluate make-stream --positives corpora/keywords --background corpora/speech --noise corpora/noise \\\n      \
--snr 10 --seed 1 --minutes 10 --out stream.wav\n  \
evaluate stream stream.wav --annotations stream.csv --out eval_stream\n  \
evaluate stream --list pairs.csv\n\n\
Run `evaluate <COMMAND> --help` for each command's options."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Folder-per-label corpora: DIR/<label>/*.wav (and DIR/<label>/<sub>/*.wav).
    ///
    /// A folder named after a model label (or mapped to one with --alias) holds positives of
    /// that label; every other folder (unknown, speech, noise, go, ...) is negative material.
    /// WAVs directly inside DIR belong to a folder named like DIR itself. Each clip runs through a fresh detector; a hit is an event
    /// of the clip's label anywhere in the clip; latency is measured from the end of speech found
    /// by an energy VAD (wakeguard::eval::speech_bounds).
    Corpus(CorpusArgs),
    /// Long recordings with annotation files (streamed: constant memory).
    ///
    /// Annotations: CSV with a label,start,end header, or a JSON array of
    /// {"label","start","end"} objects; seconds from the start of the WAV they are paired with.
    /// Labels must be model labels. An event matches an utterance if its time is within
    /// [start, end + --tolerance]; every other event is a false alarm.
    Stream(StreamArgs),
    /// Build an annotated test stream: background speech with keyword clips inserted.
    ///
    /// Background clips (chosen in a seeded shuffled order) are concatenated with 0.1-0.6 s
    /// pauses; a positive clip, with 0.5-1.5 s pauses around it, is inserted after the background
    /// clip that passes its scheduled time (scheduled times are spaced by gaps drawn uniformly in
    /// 0.5-1.5 x 60 / --per-minute s, so positives come close together after a long background
    /// clip). Positive labels are taken in turn, in a shuffled order. Every clip is scaled to
    /// --level-db active-speech RMS (over its VAD span), less if that would clip. Noise (files
    /// concatenated in a shuffled order) is mixed at --snr dB below that level. Writes the WAV
    /// (16-bit) and, next to it, a .csv with label,start,end of every inserted positive (the
    /// positive's folder name; start/end from the energy VAD of the clip, in stream time).
    MakeStream(MakeStreamArgs),
}

/// Options shared by `corpus` and `stream`.
#[derive(Args, Debug)]
struct Common {
    /// ONNX model with wakeguard metadata [default: the model embedded in the crate]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Output folder for report.json, summary.md and det.svg (created if missing)
    #[arg(long, value_name = "DIR", default_value = "eval_out")]
    out: PathBuf,
    /// Labels to evaluate, comma-separated [default: every keyword label of the model]
    #[arg(long, value_name = "a,b,...", value_delimiter = ',')]
    labels: Vec<String>,
    /// Thresholds of the DET curve, comma-separated, each in (0, 1]: one detector run per
    /// threshold (every label at it), so each point is exactly what a detector set to it reports
    #[arg(
        long,
        value_name = "T,T,...",
        value_delimiter = ',',
        default_value = "0.05,0.1,0.2,0.3,0.5,0.7,0.8,0.9,0.95,0.98,0.99,0.995,0.998,0.999,0.9995,0.9999"
    )]
    thresholds: Vec<f32>,
    /// Threshold of the candidate run whose events are also swept over every distinct score
    /// (report.json: "candidate_sweep"; fine-grained but approximate); added to --thresholds
    #[arg(long, value_name = "T", default_value_t = wakeguard::eval::DEFAULT_CANDIDATE_THRESHOLD)]
    candidate_threshold: f32,
    /// Seconds after an annotated end within which an event still matches the utterance
    #[arg(long, value_name = "SECONDS", default_value_t = wakeguard::eval::DEFAULT_TOLERANCE_S)]
    tolerance: f64,
    /// Worker threads [default: 2, or 1 on a single core]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Skip unreadable WAV files and files that are not 16 kHz mono (they are counted and
    /// listed in report.json) instead of stopping at the first one
    #[arg(long)]
    skip_bad: bool,
    /// Frames (10 ms) the detector averages the posteriors over before thresholding
    /// [default: DetectorConfig::default(), 3]
    #[arg(long, value_name = "N")]
    smoothing_frames: Option<usize>,
}

#[derive(Args, Debug)]
struct CorpusArgs {
    /// Corpus folders (DIR/<label>/*.wav)
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Folders whose clips are positives of a differently named label, FOLDER=LABEL,
    /// comma-separated or repeated (e.g. stop=cancel: a spoken "stop" is a cancel)
    /// [default: none; a folder is a positive only of the label it is named after]
    #[arg(long, value_name = "FOLDER=LABEL", value_delimiter = ',')]
    alias: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
struct StreamArgs {
    /// Recordings; each is paired, in order, with one --annotations file
    #[arg(value_name = "FILE.wav")]
    wavs: Vec<PathBuf>,
    /// Annotation file (CSV or JSON) of the recording at the same position
    #[arg(long, value_name = "FILE.csv|json")]
    annotations: Vec<PathBuf>,
    /// CSV list of pairs, one `wav,annotations` row each (optional header; relative paths are
    /// relative to the list's folder); may be combined with pairs on the command line
    #[arg(long, value_name = "LIST.csv")]
    list: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
struct MakeStreamArgs {
    /// Positive clip folders (DIR/<label>/*.wav, or a DIR named after a label); every folder
    /// name must be a model label
    #[arg(long, required = true, num_args = 1.., value_name = "DIR")]
    positives: Vec<PathBuf>,
    /// Background speech folders (every WAV up to two levels down)
    #[arg(long, required = true, num_args = 1.., value_name = "DIR")]
    background: Vec<PathBuf>,
    /// Noise folders (every WAV up to two levels down) [default: none, a clean stream]
    #[arg(long, num_args = 1.., value_name = "DIR")]
    noise: Vec<PathBuf>,
    /// Speech-to-noise ratio in dB (ignored without --noise)
    #[arg(long, value_name = "DB", default_value_t = 10.0)]
    snr: f64,
    /// Seed of every random choice (the same seed and inputs give the same stream)
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Length of the stream in minutes
    #[arg(long, value_name = "M", default_value_t = 10.0)]
    minutes: f64,
    /// Average number of positives per minute
    #[arg(long, value_name = "R", default_value_t = 4.0)]
    per_minute: f64,
    /// Active-speech RMS level every clip is scaled to, dBFS
    #[arg(long, value_name = "DB", default_value_t = -26.0, allow_hyphen_values = true)]
    level_db: f64,
    /// Output WAV; the annotations go to the same path with a .csv extension
    #[arg(long, value_name = "FILE.wav", default_value = "stream.wav")]
    out: PathBuf,
    /// ONNX model whose labels the positive folders must be named after [default: embedded]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Skip unreadable or non-16 kHz-mono clips instead of stopping
    #[arg(long)]
    skip_bad: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Corpus(a) => run_corpus(a),
        Command::Stream(a) => run_stream(a),
        Command::MakeStream(a) => make_stream(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("evaluate: {msg}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- shared

fn load_model(path: &Option<PathBuf>) -> Res<Arc<KeywordModel>> {
    let model = match path {
        Some(p) => {
            if !p.is_file() {
                return Err(format!("{}: model file not found", p.display()));
            }
            KeywordModel::from_path(p)
        }
        None => KeywordModel::embedded(),
    }
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(model))
}

fn keyword_labels(model: &KeywordModel) -> Vec<String> {
    model.metadata().labels.iter().skip(1).cloned().collect()
}

/// The labels to evaluate: `--labels`, checked against the model, or all.
fn chosen_labels(model: &KeywordModel, asked: &[String]) -> Res<Vec<String>> {
    let all = keyword_labels(model);
    if asked.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<String> = Vec::new();
    for l in asked {
        let l = l.trim();
        if !all.iter().any(|a| a == l) {
            return Err(format!(
                "--labels: the model has no label {l:?} (labels: {})",
                all.join(", ")
            ));
        }
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    Ok(out)
}

fn check_common(c: &Common) -> Res<()> {
    if !(c.candidate_threshold > 0.0 && c.candidate_threshold <= 1.0) {
        return Err(format!(
            "--candidate-threshold {} must be in (0, 1]",
            c.candidate_threshold
        ));
    }
    if let Some(t) = c.thresholds.iter().find(|t| !(**t > 0.0 && **t <= 1.0)) {
        return Err(format!("--thresholds: {t} is not in (0, 1]"));
    }
    if !(c.tolerance.is_finite() && c.tolerance >= 0.0) {
        return Err(format!("--tolerance {} must be >= 0", c.tolerance));
    }
    if c.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    Ok(())
}

/// The run thresholds: `--thresholds` plus the candidate threshold, sorted, unique.
fn grid(c: &Common) -> Vec<f32> {
    let mut g = c.thresholds.clone();
    g.push(c.candidate_threshold);
    g.sort_by(f32::total_cmp);
    g.dedup();
    g
}

fn thread_count(c: &Common) -> usize {
    c.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1)
    })
}

/// The detector settings of every run: the defaults, with `--smoothing-frames`.
fn detector_config(c: &Common) -> DetectorConfig {
    let mut config = DetectorConfig::default();
    if let Some(n) = c.smoothing_frames {
        config.smoothing_frames = n;
    }
    config
}

fn new_detector(
    model: &Arc<KeywordModel>,
    config: &DetectorConfig,
    threshold: f32,
) -> Res<Detector> {
    let mut d = Detector::new(model.clone(), config.clone()).map_err(|e| e.to_string())?;
    d.set_all_thresholds(threshold).map_err(|e| e.to_string())?;
    Ok(d)
}

/// An event as `(label, score, time_s)`.
type Ev = (String, f32, f64);

/// Detectors over the same audio: run 0 at the model's default thresholds
/// (production), run `k ≥ 1` with every label at `grid[k − 1]`. Only the runs
/// in `which` are active (a stream's runs can be split between threads).
struct Bank {
    detectors: Vec<(usize, Detector)>,
    events: Vec<(usize, Vec<Ev>)>,
}

impl Bank {
    fn new(
        model: &Arc<KeywordModel>,
        config: &DetectorConfig,
        grid: &[f32],
        which: &[usize],
    ) -> Res<Self> {
        let mut detectors = Vec::new();
        for &k in which {
            let d = match k {
                0 => Detector::new(model.clone(), config.clone()).map_err(|e| e.to_string())?,
                k => new_detector(model, config, grid[k - 1])?,
            };
            detectors.push((k, d));
        }
        Ok(Bank {
            events: which.iter().map(|&k| (k, Vec::new())).collect(),
            detectors,
        })
    }

    fn ev(d: wakeguard::detector::Detection) -> Ev {
        let e = ScoredEvent::from_detection(&d, 0);
        (e.label, e.score, e.time_s)
    }

    fn push(&mut self, pcm: &[f32]) -> Result<(), wakeguard::Error> {
        for ((_, d), (_, out)) in self.detectors.iter_mut().zip(&mut self.events) {
            d.push(pcm, |e| out.push(Self::ev(e)))?;
        }
        Ok(())
    }

    /// `(run index, events)` of every active run.
    fn finish(mut self) -> Result<Vec<(usize, Vec<Ev>)>, wakeguard::Error> {
        for ((_, d), (_, out)) in self.detectors.iter_mut().zip(&mut self.events) {
            d.finish(|e| out.push(Self::ev(e)))?;
        }
        Ok(self.events)
    }
}

/// Events of one source as [`ScoredEvent`]s of source `id`.
fn scored(events: Vec<Ev>, id: usize) -> impl Iterator<Item = ScoredEvent> {
    events
        .into_iter()
        .map(move |(label, score, time_s)| ScoredEvent {
            label,
            score,
            time_s,
            source: id,
        })
}

fn progress(len: u64, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{elapsed_precise}} (eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style);
    }
    pb
}

fn is_wav(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
}

fn sorted_entries(dir: &Path) -> Res<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut v = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        v.push(entry.path());
    }
    v.sort();
    Ok(v)
}

fn check_dir(dir: &Path) -> Res<()> {
    if !dir.exists() {
        return Err(format!("{}: no such folder", dir.display()));
    }
    if !dir.is_dir() {
        return Err(format!("{}: not a folder", dir.display()));
    }
    Ok(())
}

fn dir_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}

/// `(folder name, wav)` for DIR/<folder>/*.wav, DIR/<folder>/<sub>/*.wav and
/// DIR/*.wav (folder = DIR's own name). Errors if DIR holds no WAV at all.
fn collect_labelled(dir: &Path) -> Res<Vec<(String, PathBuf)>> {
    check_dir(dir)?;
    let mut out = Vec::new();
    for entry in sorted_entries(dir)? {
        if entry.is_dir() {
            let group = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for inner in sorted_entries(&entry)? {
                if inner.is_dir() {
                    for f in sorted_entries(&inner)? {
                        if f.is_file() && is_wav(&f) {
                            out.push((group.clone(), f));
                        }
                    }
                } else if is_wav(&inner) {
                    out.push((group.clone(), inner));
                }
            }
        } else if is_wav(&entry) {
            out.push((dir_name(dir), entry));
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no .wav files (expected {}/<label>/*.wav)",
            dir.display(),
            dir.display()
        ));
    }
    Ok(out)
}

/// Run `work` on every item with `threads` workers; results arrive in the
/// main thread through `on_result` (in completion order). Stops early when
/// `on_result` returns an error.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
    mut on_result: impl FnMut(usize, R) -> Res<()>,
) -> Res<()> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(items.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for (i, r) in rx {
            if outcome.is_ok() {
                outcome = on_result(i, r);
                if outcome.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        outcome
    })
}

// ---------------------------------------------------------------- corpus

struct ClipResult {
    duration_s: f64,
    speech_end_s: Option<f64>,
    /// Events per run (index as in [`Bank`]).
    runs: Vec<(usize, Vec<Ev>)>,
}

fn run_clip(
    model: &Arc<KeywordModel>,
    config: &DetectorConfig,
    grid: &[f32],
    path: &Path,
) -> Res<ClipResult> {
    let audio = read_wav(path).map_err(|e| e.to_string())?;
    let in_file = |e: wakeguard::Error| format!("{}: {e}", path.display());
    let all: Vec<usize> = (0..=grid.len()).collect();
    let mut bank = Bank::new(model, config, grid, &all)?;
    for chunk in audio.samples.chunks(1600) {
        bank.push(chunk).map_err(in_file)?;
    }
    Ok(ClipResult {
        duration_s: audio.duration_secs(),
        speech_end_s: speech_bounds(&audio.samples, SAMPLE_RATE, &VadConfig::default())
            .map(|b| b.1),
        runs: bank.finish().map_err(in_file)?,
    })
}

/// The evaluations of every run: production (run 0), the threshold runs,
/// and the candidate run for the sweep.
struct Evaluations {
    production: Evaluation,
    runs: ThresholdRuns,
    sweep: Evaluation,
}

fn evaluations(
    c: &Common,
    labels: &[String],
    sources: &[Source],
    events: Vec<Vec<ScoredEvent>>,
) -> Res<Evaluations> {
    let config = EvalConfig {
        tolerance_s: c.tolerance,
    };
    let grid = grid(c);
    let mut evals = events
        .iter()
        .map(|ev| Evaluation::new(labels, sources, ev, config))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let candidate = grid
        .iter()
        .position(|&t| t == c.candidate_threshold)
        .ok_or("candidate threshold missing from the grid")?;
    let sweep = evals[candidate + 1].clone();
    let production = evals.remove(0);
    let runs =
        ThresholdRuns::new(grid.into_iter().zip(evals).collect()).map_err(|e| e.to_string())?;
    Ok(Evaluations {
        production,
        runs,
        sweep,
    })
}

/// `--alias FOLDER=LABEL` pairs, each LABEL checked against the model's keyword labels.
fn parse_aliases(pairs: &[String], model_labels: &[String]) -> Res<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((folder, label)) = pair.split_once('=') else {
            return Err(format!("--alias {pair:?}: expected FOLDER=LABEL"));
        };
        let (folder, label) = (folder.trim(), label.trim());
        if folder.is_empty() || !model_labels.iter().any(|l| l == label) {
            return Err(format!(
                "--alias {pair:?}: {label:?} is not a keyword label of the model (labels: {})",
                model_labels.join(", ")
            ));
        }
        if out.insert(folder.to_string(), label.to_string()).is_some() {
            return Err(format!("--alias: folder {folder:?} given twice"));
        }
    }
    Ok(out)
}

fn run_corpus(args: CorpusArgs) -> Res<()> {
    let c = &args.common;
    check_common(c)?;
    let started = Instant::now();
    let model = load_model(&c.model)?;
    let labels = chosen_labels(&model, &c.labels)?;
    let model_labels = keyword_labels(&model);
    let aliases = parse_aliases(&args.alias, &model_labels)?;
    let mut clips = Vec::new();
    for dir in &args.dirs {
        clips.extend(collect_labelled(dir)?.into_iter().map(|(g, p)| {
            let g = aliases.get(&g).cloned().unwrap_or(g);
            (g, p)
        }));
    }
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for (g, _) in &clips {
        *groups.entry(g.clone()).or_default() += 1;
    }
    if !groups.keys().any(|g| labels.contains(g)) {
        return Err(format!(
            "no positives: no folder in {} is named after an evaluated label (folders: {}; labels: {})",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            groups.keys().cloned().collect::<Vec<_>>().join(", "),
            labels.join(", ")
        ));
    }
    fs_create(&c.out)?;
    let threads = thread_count(c);
    let grid = grid(c);
    let config = detector_config(c);
    eprintln!(
        "evaluate: {} clips in {} folders, {} detector runs per clip ({} thresholds + the \
         model's defaults), {} thread(s)",
        clips.len(),
        groups.len(),
        grid.len() + 1,
        grid.len(),
        threads,
    );
    let pb = progress(clips.len() as u64, "clips");
    let mut results: Vec<Option<ClipResult>> = (0..clips.len()).map(|_| None).collect();
    let mut skipped: Vec<(String, String)> = Vec::new();
    parallel(
        &clips,
        threads,
        |(_, path)| run_clip(&model, &config, &grid, path),
        |i, r| {
            pb.inc(1);
            match r {
                Ok(r) => results[i] = Some(r),
                Err(e) if c.skip_bad => {
                    pb.suspend(|| eprintln!("evaluate: skipped {e}"));
                    skipped.push((clips[i].1.display().to_string(), e));
                }
                Err(e) => {
                    return Err(format!("{e}\n(use --skip-bad to skip such files)"));
                }
            }
            Ok(())
        },
    )
    .inspect_err(|_| pb.finish_and_clear())?;
    pb.finish_and_clear();
    skipped.sort();

    let mut sources = Vec::new();
    let mut events: Vec<Vec<ScoredEvent>> = vec![Vec::new(); grid.len() + 1];
    for ((group, path), r) in clips.iter().zip(results) {
        let Some(r) = r else { continue };
        let id = sources.len();
        for (k, ev) in r.runs {
            events[k].extend(scored(ev, id));
        }
        sources.push(Source {
            name: path.display().to_string(),
            duration_s: r.duration_s,
            truth: Truth::Clip {
                label: model_labels.contains(group).then(|| group.clone()),
                speech_end_s: r.speech_end_s,
            },
        });
    }
    if sources.is_empty() {
        return Err("every file was skipped: nothing to evaluate".into());
    }
    let evals = evaluations(c, &labels, &sources, events)?;
    let eval = &evals.production;
    if labels.iter().all(|l| eval.positives(l).unwrap_or(0) == 0) {
        return Err("no positives left after skipping bad files".into());
    }
    let folders: Vec<_> = groups
        .iter()
        .map(|(g, n)| {
            json!({"folder": g, "files": n,
                   "role": if labels.contains(g) { "positive" } else { "negative" }})
        })
        .collect();
    let inputs = json!({
        "mode": "corpus",
        "dirs": args.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
        "aliases": aliases,
        "folders": folders,
        "files": sources.len(),
        "skipped": skipped.iter().map(|(p, e)| json!({"file": p, "error": e})).collect::<Vec<_>>(),
        "audio_hours": eval.total_hours(),
    });
    let description = format!(
        "corpus {} · {} clips, {:.2} h of audio{}",
        args.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        sources.len(),
        eval.total_hours(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(", {} bad files skipped", skipped.len())
        }
    );
    write_outputs(c, &model, &labels, &evals, inputs, &description)?;
    eprintln!(
        "evaluate: {} clips ({:.2} h of audio) in {:.1} s; outputs in {}",
        sources.len(),
        eval.total_hours(),
        started.elapsed().as_secs_f64(),
        c.out.display()
    );
    Ok(())
}

fn fs_create(dir: &Path) -> Res<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create folder: {e}", dir.display()))
}

// ---------------------------------------------------------------- stream

struct Pair {
    wav: PathBuf,
    annotations: PathBuf,
    /// Where the pair was given, for messages.
    origin: String,
}

fn read_list(list: &Path) -> Res<Vec<Pair>> {
    let text = std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if fields.len() != 2 || fields.iter().any(|f| f.is_empty()) {
            return Err(format!(
                "{}, line {n}: expected `wav,annotations`, found {line:?}",
                list.display()
            ));
        }
        if pairs.is_empty()
            && fields[0].eq_ignore_ascii_case("wav")
            && fields[1].eq_ignore_ascii_case("annotations")
        {
            continue;
        }
        pairs.push(Pair {
            wav: base.join(fields[0]),
            annotations: base.join(fields[1]),
            origin: format!("{}, line {n}", list.display()),
        });
    }
    if pairs.is_empty() {
        return Err(format!("{}: no `wav,annotations` rows", list.display()));
    }
    Ok(pairs)
}

struct StreamResult {
    duration_s: f64,
    spans: Vec<Span>,
    /// Events per run (index as in [`Bank`]).
    runs: Vec<(usize, Vec<Ev>)>,
}

/// One stream through the runs `which` (see [`Bank`]).
fn run_one_stream(
    model: &Arc<KeywordModel>,
    config: &DetectorConfig,
    grid: &[f32],
    which: &[usize],
    pair: &Pair,
    pb: &ProgressBar,
) -> Res<StreamResult> {
    let mut source = open_wav(&pair.wav, false).map_err(|e| e.to_string())?;
    let duration_s = source.len_samples() as f64 / f64::from(SAMPLE_RATE);
    let known = keyword_labels(model);
    let spans = read_annotations(
        &pair.annotations,
        &AnnotationCheck {
            known_labels: Some(&known),
            duration_s: Some(duration_s),
        },
    )
    .map_err(|e| format!("{e} (annotations of {})", pair.wav.display()))?;
    let in_file = |e: wakeguard::Error| format!("{}: {e}", pair.wav.display());
    let mut bank = Bank::new(model, config, grid, which)?;
    let mut buf = vec![0.0f32; SAMPLE_RATE as usize];
    let mut read = 0u64;
    loop {
        let n = source.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        read += n as u64;
        bank.push(&buf[..n]).map_err(in_file)?;
        pb.inc(n as u64 / u64::from(SAMPLE_RATE).max(1));
    }
    Ok(StreamResult {
        duration_s: read as f64 / f64::from(SAMPLE_RATE),
        spans,
        runs: bank.finish().map_err(in_file)?,
    })
}

fn run_stream(args: StreamArgs) -> Res<()> {
    let c = &args.common;
    check_common(c)?;
    let started = Instant::now();
    if args.wavs.len() != args.annotations.len() {
        return Err(format!(
            "{} recording(s) but {} --annotations file(s): give one --annotations per FILE.wav",
            args.wavs.len(),
            args.annotations.len()
        ));
    }
    let mut pairs: Vec<Pair> = args
        .wavs
        .iter()
        .zip(&args.annotations)
        .map(|(w, a)| Pair {
            wav: w.clone(),
            annotations: a.clone(),
            origin: "command line".into(),
        })
        .collect();
    if let Some(list) = &args.list {
        if !list.is_file() {
            return Err(format!("{}: list file not found", list.display()));
        }
        pairs.extend(read_list(list)?);
    }
    if pairs.is_empty() {
        return Err(
            "no recordings: give FILE.wav --annotations FILE.csv, or --list LIST.csv".into(),
        );
    }
    for p in &pairs {
        if !p.wav.is_file() {
            return Err(format!(
                "{}: recording not found ({})",
                p.wav.display(),
                p.origin
            ));
        }
        if !p.annotations.is_file() {
            return Err(format!(
                "{}: annotation file not found ({})",
                p.annotations.display(),
                p.origin
            ));
        }
    }
    let model = load_model(&c.model)?;
    let labels = chosen_labels(&model, &c.labels)?;
    fs_create(&c.out)?;
    // Header lengths for the progress bar (seconds of audio).
    let total_s: u64 = pairs
        .iter()
        .filter_map(|p| open_wav(&p.wav, false).ok())
        .map(|s| s.len_samples() / u64::from(SAMPLE_RATE))
        .sum();
    // Jobs: (stream, share of the runs). With fewer streams than threads,
    // each stream's runs are split between the threads (each job reads the
    // file itself, so memory stays constant).
    let threads = thread_count(c);
    let grid = grid(c);
    let config = detector_config(c);
    let shares = if pairs.len() >= threads { 1 } else { threads };
    let n_runs = grid.len() + 1;
    let jobs: Vec<(usize, Vec<usize>)> = (0..pairs.len())
        .flat_map(|i| {
            (0..shares).map(move |part| (i, (0..n_runs).filter(|k| k % shares == part).collect()))
        })
        .filter(|(_, which): &(usize, Vec<usize>)| !which.is_empty())
        .collect();
    eprintln!(
        "evaluate: {} stream(s), {} detector runs each ({} thresholds + the model's defaults), \
         {threads} thread(s)",
        pairs.len(),
        grid.len() + 1,
        grid.len()
    );
    let pb = progress(total_s * shares as u64, "s of audio");
    let mut results: Vec<Option<StreamResult>> = (0..pairs.len()).map(|_| None).collect();
    let mut failed = vec![false; pairs.len()];
    let mut skipped: Vec<(String, String)> = Vec::new();
    parallel(
        &jobs,
        threads,
        |(i, which)| run_one_stream(&model, &config, &grid, which, &pairs[*i], &pb),
        |j, r| {
            let i = jobs[j].0;
            match r {
                Ok(r) => match &mut results[i] {
                    Some(done) => done.runs.extend(r.runs),
                    slot => *slot = Some(r),
                },
                // Annotation errors always stop; bad audio may be skipped.
                Err(e) if c.skip_bad && !e.contains("(annotations of ") => {
                    if !failed[i] {
                        pb.suspend(|| eprintln!("evaluate: skipped {e}"));
                        skipped.push((pairs[i].wav.display().to_string(), e));
                    }
                    failed[i] = true;
                }
                Err(e) => return Err(e),
            }
            Ok(())
        },
    )
    .inspect_err(|_| pb.finish_and_clear())?;
    pb.finish_and_clear();

    let mut sources = Vec::new();
    let mut events: Vec<Vec<ScoredEvent>> = vec![Vec::new(); grid.len() + 1];
    let mut described = Vec::new();
    for ((p, r), failed) in pairs.iter().zip(results).zip(failed) {
        let Some(r) = r.filter(|_| !failed) else {
            continue;
        };
        let id = sources.len();
        for (k, ev) in r.runs {
            events[k].extend(scored(ev, id));
        }
        described.push(json!({"wav": p.wav.display().to_string(),
            "annotations": p.annotations.display().to_string(),
            "duration_s": r.duration_s, "utterances": r.spans.len()}));
        sources.push(Source {
            name: p.wav.display().to_string(),
            duration_s: r.duration_s,
            truth: Truth::Stream { spans: r.spans },
        });
    }
    if sources.is_empty() {
        return Err("every recording was skipped: nothing to evaluate".into());
    }
    let evals = evaluations(c, &labels, &sources, events)?;
    let eval = &evals.production;
    let inputs = json!({
        "mode": "stream",
        "streams": described,
        "files": sources.len(),
        "skipped": skipped.iter().map(|(p, e)| json!({"file": p, "error": e})).collect::<Vec<_>>(),
        "audio_hours": eval.total_hours(),
    });
    let description = format!(
        "{} stream(s), {:.2} h of audio, {} annotated utterances",
        sources.len(),
        eval.total_hours(),
        sources
            .iter()
            .map(|s| match &s.truth {
                Truth::Stream { spans } => spans.len(),
                Truth::Clip { .. } => 0,
            })
            .sum::<usize>()
    );
    write_outputs(c, &model, &labels, &evals, inputs, &description)?;
    eprintln!(
        "evaluate: {} stream(s) ({:.2} h of audio) in {:.1} s; outputs in {}",
        sources.len(),
        eval.total_hours(),
        started.elapsed().as_secs_f64(),
        c.out.display()
    );
    Ok(())
}

// ---------------------------------------------------------------- outputs

fn write_outputs(
    c: &Common,
    model: &KeywordModel,
    labels: &[String],
    evals: &Evaluations,
    inputs: serde_json::Value,
    description: &str,
) -> Res<()> {
    let meta = model.metadata();
    let detector = detector_config(c);
    let err = |e: wakeguard::eval::EvalError| e.to_string();
    let mut summaries = Vec::new();
    let mut curves = Vec::new();
    let mut per_label = Vec::new();
    let mut sweep_differs = Vec::new();
    for l in labels {
        let default = meta.thresholds.get(l).copied().unwrap_or(1.0);
        // Exact: the detector run at the model's defaults, and one run per
        // grid threshold.
        let at_default = evals.production.at_threshold(l, default).map_err(err)?;
        let det = evals.runs.det_curve(l).map_err(err)?;
        let at_fa_targets = DEFAULT_FA_TARGETS
            .iter()
            .map(|&t| evals.runs.at_fa_target(l, t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        // Approximate: every distinct score of the candidate run.
        let sweep = evals
            .sweep
            .summary(l, default, &DEFAULT_FA_TARGETS)
            .map_err(err)?;
        let sd = &sweep.at_default_threshold;
        if default >= c.candidate_threshold
            && (sd.hits, sd.false_alarms) != (at_default.hits, at_default.false_alarms)
        {
            sweep_differs.push(format!(
                "{l} ({} / {} vs {} / {})",
                sd.hits, sd.false_alarms, at_default.hits, at_default.false_alarms
            ));
        }
        per_label.push(json!({
            "summary": LabelSummary {
                label: l.clone(),
                positives: at_default.positives,
                background_hours: at_default.background_hours,
                at_default_threshold: at_default.clone(),
                at_fa_targets: at_fa_targets.clone(),
            },
            "det": det,
            "candidate_sweep": {
                "at_default_threshold": sweep.at_default_threshold,
                "at_fa_targets": sweep.at_fa_targets,
                "det": evals.sweep.det_curve(l).map_err(err)?,
            },
        }));
        summaries.push(LabelSummary {
            label: l.clone(),
            positives: at_default.positives,
            background_hours: at_default.background_hours,
            at_default_threshold: at_default,
            at_fa_targets,
        });
        curves.push(det);
    }
    let report = json!({
        "tool": "wakeguard evaluate",
        "version": env!("CARGO_PKG_VERSION"),
        "inputs": inputs,
        "model": {
            "path": c.model.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "embedded".into()),
            "parameters": meta.parameters,
            "labels": meta.labels,
            "default_thresholds": meta.thresholds,
        },
        "settings": {
            "thresholds": evals.runs.thresholds(),
            "candidate_threshold": c.candidate_threshold,
            "tolerance_s": c.tolerance,
            "fa_targets_per_hour": DEFAULT_FA_TARGETS,
            "detector": {
                "smoothing_frames": detector.smoothing_frames,
                "refractory_frames": detector.refractory_frames,
                "max_event_frames": detector.max_event_frames,
            },
        },
        "labels": per_label,
        "notes": {
            "summary.at_default_threshold": "a detector run with the model's default thresholds; latency (event time minus end of the utterance: annotation end, or the energy-VAD end of speech for clips) comes from it",
            "summary.at_fa_targets, det": "one detector run per threshold in settings.thresholds (every label at it); at_fa_targets: the lowest miss rate among those runs with at most the target FA/h",
            "candidate_sweep": "the events of the run at candidate_threshold scored at every distinct score: finer but approximate, since the detector groups events relative to its own threshold",
            "candidate_sweep_differs_at_default": sweep_differs,
        },
    });
    let write = |name: &str, text: &str| {
        let p = c.out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let pretty = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    write("report.json", &pretty)?;
    let mut md = markdown(&summaries, description, meta.parameters, c);
    md.push_str(&format!(
        "\nThresholds tried (one detector run each): {}.\n",
        evals
            .runs
            .thresholds()
            .iter()
            .rev()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !sweep_differs.is_empty() {
        md.push_str(&format!(
            "\nThe single-run sweep over candidate events (report.json, approximate) gives \
             other hits / false alarms at the default threshold than a detector run at it for: \
             {}.\n",
            sweep_differs.join(", ")
        ));
    }
    write("summary.md", &md)?;
    plot_det(&c.out.join("det.svg"), &summaries, &curves)?;
    println!("{md}");
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or("—".into(), |v| format!("{v:.digits$}"))
}

fn markdown(
    summaries: &[LabelSummary],
    description: &str,
    parameters: usize,
    c: &Common,
) -> String {
    let mut md = String::from("# wakeguard evaluation\n\n");
    md.push_str(&format!(
        "Input: {description}. Model: {} ({parameters} parameters). Tolerance {} s.\n\n",
        c.model
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "embedded".into()),
        c.tolerance
    ));
    md.push_str(
        "| label | positives | background h | default thr | hits | miss rate | FA/h | miss @0.1 FA/h | miss @0.5 FA/h | miss @1 FA/h | latency median / p95 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in summaries {
        let d = &s.at_default_threshold;
        let at = |i: usize| match s.at_fa_targets.get(i).map(|r| r.point.as_ref()) {
            Some(Some(p)) => format!("{} ({:.4})", pct(p.miss_rate), p.threshold),
            // Only detecting nothing at all reaches the target.
            Some(None) if s.positives > 0 && s.background_hours > 0.0 => "100% (none)".into(),
            _ => "—".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.label,
            s.positives,
            s.background_hours,
            d.threshold,
            d.hits,
            pct(d.miss_rate),
            num(d.fa_per_hour, 2),
            at(0),
            at(1),
            at(2),
            match (d.latency.median_s, d.latency.p95_s) {
                (Some(m), Some(p)) => format!("{m:.2} / {p:.2} s"),
                _ => "—".into(),
            }
        ));
    }
    md.push_str(
        "\nMiss rates at a false-alarm target show the threshold used in parentheses; \
         \"100% (none)\": no threshold tried reaches the target; \"—\": no positives. \
         With B hours of background one false alarm is 1/B per hour, so a target below \
         that means zero false alarms. Latency: from a detector run at the default \
         thresholds, event time minus end of the word (annotation end; for clips, the end \
         of speech found by an energy VAD); negative: the event came before that end.\n",
    );
    md
}

const COLORS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn axis_number(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Lower axis edge for a log axis: a power of ten strictly below half the
/// smallest positive value (and at most `cap`).
fn log_floor(values: impl Iterator<Item = f64>, cap: f64) -> f64 {
    let min = values.filter(|v| *v > 0.0).fold(cap, f64::min);
    10f64.powf((min / 2.0).log10().floor())
}

fn plot_det(path: &Path, summaries: &[LabelSummary], curves: &[Vec<DetPoint>]) -> Res<()> {
    use plotters::prelude::*;
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // Only labels with positives and background have a curve.
    let plotted: Vec<(usize, &LabelSummary, &Vec<DetPoint>)> = summaries
        .iter()
        .zip(curves)
        .enumerate()
        .filter(|(_, (s, _))| s.positives > 0 && s.background_hours > 0.0)
        .map(|(i, (s, c))| (i, s, c))
        .collect();
    let fas = || {
        plotted
            .iter()
            .flat_map(|(_, s, c)| {
                c.iter()
                    .filter_map(|p| p.fa_per_hour)
                    .chain(s.at_default_threshold.fa_per_hour)
            })
            .collect::<Vec<_>>()
    };
    let misses = || {
        plotted
            .iter()
            .flat_map(|(_, s, c)| {
                c.iter()
                    .filter_map(|p| p.miss_rate)
                    .chain(s.at_default_threshold.miss_rate)
            })
            .collect::<Vec<_>>()
    };
    let x_lo = log_floor(fas().into_iter(), 0.1);
    let x_hi = 10f64.powf(fas().into_iter().fold(10.0, f64::max).log10().ceil());
    let y_lo = log_floor(misses().into_iter(), 0.01).max(1e-4);
    let at_x = |fa: Option<f64>| fa.unwrap_or(0.0).max(x_lo);
    let at_y = |m: Option<f64>| m.unwrap_or(1.0).max(y_lo);

    let root = SVGBackend::new(path, (1280, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (main, footer) = root.split_vertically(668);
    let (plot_area, legend_area) = main.split_horizontally(960);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(
            "DET curve: miss rate against false alarms per hour",
            ("sans-serif", 24),
        )
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..1.0f64).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("false alarms per hour (log scale; 0 is drawn at the left edge)")
        .y_desc("miss rate (log scale; 0 at the bottom edge)")
        .x_label_formatter(&|x| axis_number(*x))
        .y_label_formatter(&|y| axis_number(*y))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| err(&e))?;
    for target in DEFAULT_FA_TARGETS {
        if target > x_lo && target < x_hi {
            chart
                .draw_series(LineSeries::new(
                    vec![(target, y_lo), (target, 1.0)],
                    RGBColor(150, 150, 150).stroke_width(1),
                ))
                .map_err(|e| err(&e))?;
        }
    }
    for (i, s, curve) in &plotted {
        let (r, g, b) = COLORS[i % COLORS.len()];
        let color = RGBColor(r, g, b);
        // A staircase from "nothing detected" (no false alarm, every
        // utterance missed): between two operating points the best miss
        // rate at FA/h <= x is the left one's, as in `at_fa_target`.
        let mut points: Vec<(f64, f64)> = vec![(x_lo, 1.0)];
        for p in curve.iter() {
            let (x, y) = (at_x(p.fa_per_hour), at_y(p.miss_rate));
            let last_y = points.last().map_or(1.0, |q| q.1);
            points.push((x, last_y));
            points.push((x, y));
        }
        let last_y = points.last().map_or(1.0, |q| q.1);
        points.push((x_hi, last_y));
        let d = &s.at_default_threshold;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| err(&e))?;
        let op = (at_x(d.fa_per_hour), at_y(d.miss_rate));
        chart
            .draw_series([
                Circle::new(op, 7, color.filled()),
                Circle::new(op, 7, BLACK.stroke_width(1)),
            ])
            .map_err(|e| err(&e))?;
    }
    // The legend, beside the plot: label, positives, and the default
    // threshold's operating point.
    let mut y = 70;
    for (i, s, _) in &plotted {
        let (r, g, b) = COLORS[i % COLORS.len()];
        let color = RGBColor(r, g, b);
        let d = &s.at_default_threshold;
        legend_area
            .draw(&PathElement::new(
                vec![(0, y + 8), (26, y + 8)],
                color.stroke_width(3),
            ))
            .map_err(|e| err(&e))?;
        legend_area
            .draw(&Circle::new((13, y + 8), 5, color.filled()))
            .map_err(|e| err(&e))?;
        legend_area
            .draw(&Text::new(
                format!("{} (n = {})", s.label, s.positives),
                (34, y),
                ("sans-serif", 15),
            ))
            .map_err(|e| err(&e))?;
        legend_area
            .draw(&Text::new(
                format!(
                    "default {:.2}: miss {}, {} FA/h",
                    d.threshold,
                    pct(d.miss_rate),
                    num(d.fa_per_hour, 2)
                ),
                (34, y + 18),
                ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(|e| err(&e))?;
        y += 46;
    }
    footer
        .draw(&Text::new(
            "● operating point at the model's default threshold · grey lines: 0.1, 0.5, 1 FA/h \
             · the curve: lowest miss rate at no more than x false alarms per hour",
            (90, 6),
            ("sans-serif", 14),
        ))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

// ---------------------------------------------------------------- make-stream

/// SplitMix64: a small, seeded, portable generator (same stream everywhere).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A shuffled list drawn in turn, reshuffled when exhausted.
struct Deck<T> {
    items: Vec<T>,
    pos: usize,
}

impl<T: Clone> Deck<T> {
    fn new(mut items: Vec<T>, rng: &mut Rng) -> Self {
        rng.shuffle(&mut items);
        Deck { items, pos: 0 }
    }
    fn draw(&mut self, rng: &mut Rng) -> Option<T> {
        if self.items.is_empty() {
            return None;
        }
        if self.pos == self.items.len() {
            rng.shuffle(&mut self.items);
            self.pos = 0;
        }
        self.pos += 1;
        Some(self.items[self.pos - 1].clone())
    }
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Scale `x` so its active-speech RMS (over the VAD span) is `target`, with
/// at most +40 dB of gain and without letting any sample exceed 0.99.
/// Returns the VAD span (seconds) if one was found.
fn normalise(x: &mut [f32], target: f64) -> Option<(f64, f64)> {
    let bounds = speech_bounds(x, SAMPLE_RATE, &VadConfig::default());
    let active = match bounds {
        Some((a, b)) => {
            let (a, b) = (
                (a * f64::from(SAMPLE_RATE)) as usize,
                ((b * f64::from(SAMPLE_RATE)) as usize).min(x.len()),
            );
            rms(&x[a.min(b)..b])
        }
        None => rms(x),
    };
    let peak = x.iter().fold(0.0f64, |m, &s| m.max(f64::from(s).abs()));
    let mut gain = if active > 0.0 {
        (target / active).min(100.0)
    } else {
        1.0
    };
    if peak > 0.0 {
        gain = gain.min(0.99 / peak);
    }
    for s in x.iter_mut() {
        *s = (f64::from(*s) * gain) as f32;
    }
    bounds
}

struct Noise {
    clips: Vec<(Vec<f32>, f64)>, // samples, gain to reach the noise level
    order: Deck<usize>,
    current: usize,
    pos: usize,
}

impl Noise {
    fn next(&mut self, rng: &mut Rng) -> f32 {
        if self.pos >= self.clips[self.current].0.len() {
            self.current = self.order.draw(rng).unwrap_or(0);
            self.pos = 0;
        }
        let (samples, gain) = &self.clips[self.current];
        let v = samples.get(self.pos).copied().unwrap_or(0.0) * *gain as f32;
        self.pos += 1;
        v
    }
}

struct StreamWriter {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    written: u64,
    clipped: u64,
    noise: Option<Noise>,
}

impl StreamWriter {
    fn emit(&mut self, x: &[f32], rng: &mut Rng) -> Res<()> {
        for &s in x {
            let n = self.noise.as_mut().map_or(0.0, |n| n.next(rng));
            let v = s + n;
            if v.abs() > 1.0 {
                self.clipped += 1;
            }
            let q = (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            self.writer.write_sample(q).map_err(|e| e.to_string())?;
        }
        self.written += x.len() as u64;
        Ok(())
    }
    fn pause(&mut self, seconds: f64, rng: &mut Rng) -> Res<()> {
        let n = (seconds * f64::from(SAMPLE_RATE)) as usize;
        self.emit(&vec![0.0; n], rng)
    }
    fn now_s(&self) -> f64 {
        self.written as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Every WAV under the folders; files whose header is not 16 kHz mono are an
/// error (or skipped and counted with `skip_bad`).
fn checked_wavs(
    dirs: &[PathBuf],
    skip_bad: bool,
    skipped: &mut usize,
) -> Res<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for d in dirs {
        for (g, p) in collect_labelled(d)? {
            match open_wav(&p, false) {
                Ok(_) => out.push((g, p)),
                Err(e) if skip_bad => {
                    eprintln!("evaluate: skipped {e}");
                    *skipped += 1;
                }
                Err(e) => return Err(format!("{e}\n(use --skip-bad to skip such files)")),
            }
        }
    }
    Ok(out)
}

fn make_stream(args: MakeStreamArgs) -> Res<()> {
    let started = Instant::now();
    for (what, v) in [
        ("--snr", args.snr),
        ("--minutes", args.minutes),
        ("--per-minute", args.per_minute),
        ("--level-db", args.level_db),
    ] {
        if !v.is_finite() {
            return Err(format!("{what} must be a finite number"));
        }
    }
    if args.minutes <= 0.0 || args.per_minute <= 0.0 {
        return Err("--minutes and --per-minute must be positive".into());
    }
    if args.level_db >= 0.0 {
        return Err("--level-db must be below 0 dBFS".into());
    }
    let model = load_model(&args.model)?;
    let labels = keyword_labels(&model);
    for d in &args.positives {
        check_dir(d)?;
    }
    let mut skipped = 0;
    let positives = checked_wavs(&args.positives, args.skip_bad, &mut skipped)?;
    let mut by_label: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (g, p) in positives {
        if !labels.contains(&g) {
            let folder = p
                .parent()
                .map(|f| f.display().to_string())
                .unwrap_or(g.clone());
            return Err(format!(
                "{folder}: positive folder {g:?} is not a label of the model (labels: {})",
                labels.join(", ")
            ));
        }
        by_label.entry(g).or_default().push(p);
    }
    if by_label.is_empty() {
        return Err("no positive clips".into());
    }
    let background: Vec<PathBuf> = checked_wavs(&args.background, args.skip_bad, &mut skipped)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if background.is_empty() {
        return Err("no background clips".into());
    }
    let mut rng = Rng(args.seed);
    let target = 10f64.powf(args.level_db / 20.0);
    let noise = if args.noise.is_empty() {
        None
    } else {
        let noise_rms = target / 10f64.powf(args.snr / 20.0);
        let mut clips = Vec::new();
        for (_, p) in checked_wavs(&args.noise, args.skip_bad, &mut skipped)? {
            match read_wav(&p) {
                Ok(a) => {
                    let r = rms(&a.samples);
                    if r > 0.0 {
                        clips.push((a.samples, noise_rms / r));
                    }
                }
                Err(e) if args.skip_bad => {
                    eprintln!("evaluate: skipped {e}");
                    skipped += 1;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if clips.is_empty() {
            return Err("no usable (non-silent) noise file".into());
        }
        let order = Deck::new((0..clips.len()).collect(), &mut rng);
        let mut n = Noise {
            clips,
            order,
            current: 0,
            pos: usize::MAX,
        };
        n.current = n.order.draw(&mut rng).unwrap_or(0);
        n.pos = 0;
        Some(n)
    };
    let csv_path = args.out.with_extension("csv");
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_create(parent)?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let writer = hound::WavWriter::create(&args.out, spec)
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut out = StreamWriter {
        writer,
        written: 0,
        clipped: 0,
        noise,
    };
    let mut label_deck = Deck::new(by_label.keys().cloned().collect(), &mut rng);
    let mut clip_decks: BTreeMap<String, Deck<PathBuf>> = BTreeMap::new();
    for (l, v) in by_label {
        let deck = Deck::new(v, &mut rng);
        clip_decks.insert(l, deck);
    }
    let mut bg_deck = Deck::new(background, &mut rng);
    let total_s = args.minutes * 60.0;
    let mean_gap = 60.0 / args.per_minute;
    let mut next_positive = rng.range(0.5, 1.5) * mean_gap;
    let mut spans: Vec<Span> = Vec::new();
    let pb = progress(total_s.ceil() as u64, "s of stream");
    let result = (|| -> Res<()> {
        while out.now_s() < total_s {
            pb.set_position(out.now_s() as u64);
            if out.now_s() >= next_positive {
                let label = label_deck.draw(&mut rng).ok_or("no positive label")?;
                let path = clip_decks
                    .get_mut(&label)
                    .and_then(|d| d.draw(&mut rng))
                    .ok_or("no positive clip")?;
                let mut clip = read_wav(&path).map_err(|e| e.to_string())?.samples;
                let bounds = normalise(&mut clip, target);
                let before = rng.range(0.5, 1.5);
                let after = rng.range(0.5, 1.5);
                let len_s = clip.len() as f64 / f64::from(SAMPLE_RATE);
                if out.now_s() + before + len_s > total_s {
                    break; // a positive must not be cut by the end of the stream
                }
                out.pause(before, &mut rng)?;
                let (a, b) = bounds.unwrap_or((0.0, len_s));
                let t0 = out.now_s();
                spans.push(Span {
                    label,
                    start_s: t0 + a,
                    end_s: t0 + b,
                });
                out.emit(&clip, &mut rng)?;
                out.pause(after, &mut rng)?;
                // From the scheduled time, not from now, so that waiting for
                // long background clips does not lower the average rate.
                next_positive += rng.range(0.5, 1.5) * mean_gap;
            } else {
                let path = bg_deck.draw(&mut rng).ok_or("no background clip")?;
                let mut clip = read_wav(&path).map_err(|e| e.to_string())?.samples;
                normalise(&mut clip, target);
                let room = ((total_s - out.now_s()) * f64::from(SAMPLE_RATE)).ceil() as usize;
                out.emit(&clip[..clip.len().min(room)], &mut rng)?;
                if out.now_s() < total_s {
                    out.pause(rng.range(0.1, 0.6), &mut rng)?;
                }
            }
        }
        // Pad to the requested length (if a positive did not fit).
        let rest = total_s - out.now_s();
        if rest > 0.0 {
            out.pause(rest, &mut rng)?;
        }
        Ok(())
    })();
    pb.finish_and_clear();
    let finalize = out.writer.finalize().map_err(|e| e.to_string());
    if let Err(e) = result.and(finalize) {
        let _ = std::fs::remove_file(&args.out);
        return Err(format!("{e}\n({} not written)", args.out.display()));
    }
    std::fs::write(&csv_path, annotations_to_csv(&spans))
        .map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &spans {
        *counts.entry(&s.label).or_default() += 1;
    }
    eprintln!(
        "evaluate: wrote {} ({:.1} min, {} positives: {}; {}; seed {}{}{}) and {} in {:.1} s",
        args.out.display(),
        out.written as f64 / f64::from(SAMPLE_RATE) / 60.0,
        spans.len(),
        counts
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        if args.noise.is_empty() {
            "clean".to_string()
        } else {
            format!("noise at {} dB SNR", args.snr)
        },
        args.seed,
        if skipped > 0 {
            format!(", {skipped} bad files skipped")
        } else {
            String::new()
        },
        if out.clipped > 0 {
            format!(", {} samples clipped", out.clipped)
        } else {
            String::new()
        },
        csv_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
