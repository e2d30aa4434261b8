//! Print every keyword detection in a WAV file.
//!
//! ```text
//! cargo run --release --example detect -- [--model PATH] [--threshold T] [--json] FILE.wav
//! ```
//!
//! - `--model PATH`: an ONNX model with wakeguard metadata (default: the
//!   model embedded in the crate).
//! - `--threshold T`: use `T` for every label instead of the model's
//!   per-label defaults. Events are grouped by the same rule at every
//!   threshold (a region of the smoothed score above it, reported when the
//!   score falls back or after `max_event_frames`), so running once per
//!   threshold gives the production events at that threshold; that is how
//!   `examples/evaluate.rs` sweeps miss rate against false alarms per hour.
//!   A single run at a low value lists every candidate, but its events are
//!   not the high-threshold events filtered by score: a low-threshold region
//!   can close before the peak that a higher threshold would report.
//! - `--json`: one JSON object per line,
//!   `{"label": "computer", "start": 12.34, "end": 12.98, "score": 0.93}`
//!   (seconds from the start of the file; `end` is when the detector fired,
//!   just after the word's end, `start` is `end` minus the label's typical
//!   duration).
//!
//! The file (16 kHz; mono, or multichannel which is averaged) is streamed
//! in 100 ms chunks, so recordings of several hours use constant memory.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wakeguard::audio::open_wav;
use wakeguard::detector::{Detection, Detector, DetectorConfig};
use wakeguard::model::KeywordModel;
use wakeguard::report;

/// Print every keyword detection in a WAV file.
#[derive(Parser, Debug)]
#[command(name = "detect")]
struct Cli {
    /// ONNX model with wakeguard metadata [default: the model embedded in the crate]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Use this threshold for every label instead of the model's per-label defaults
    #[arg(long, value_name = "T")]
    threshold: Option<f32>,
    /// One JSON object per line: {"label", "start", "end", "score"}
    #[arg(long)]
    json: bool,
    /// The recording (16 kHz; mono, or multichannel which is averaged)
    #[arg(value_name = "FILE.wav")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("detect: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        model: model_path,
        threshold,
        json,
        file,
    } = cli;
    let model = match &model_path {
        Some(p) => KeywordModel::from_path(p),
        None => KeywordModel::embedded(),
    }
    .map_err(|e| e.to_string())?;
    let mut detector =
        Detector::new(Arc::new(model), DetectorConfig::default()).map_err(|e| e.to_string())?;
    if let Some(t) = threshold {
        detector.set_all_thresholds(t).map_err(|e| e.to_string())?;
    }
    let mut source = open_wav(&file, true).map_err(|e| e.to_string())?;

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut events = Vec::new();
    let mut buf = vec![0.0f32; 1600];
    loop {
        let n = source.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        detector
            .push(&buf[..n], |d| events.push(d))
            .map_err(|e| e.to_string())?;
        print_events(&mut out, &mut events, json)?;
    }
    detector
        .finish(|d| events.push(d))
        .map_err(|e| e.to_string())?;
    print_events(&mut out, &mut events, json)?;
    out.flush().map_err(|e| e.to_string())
}

fn print_events(
    out: &mut impl Write,
    events: &mut Vec<Detection>,
    json: bool,
) -> Result<(), String> {
    for d in events.drain(..) {
        let line = if json {
            report::detection_json(&d)
        } else {
            report::detection_text(&d)
        };
        writeln!(out, "{line}").map_err(|e| format!("writing stdout: {e}"))?;
    }
    Ok(())
}
