//! How often a spoken answer would confirm a request: the acceptance rate
//! of the read-back answer on folders of recordings.
//!
//! ```text
//! cargo run --release --example confirm_eval -- [--scoring embedding|keyword] [--answer-head HEAD.onnx] [--model PATH] [--json] [--clips] DIR...
//! ```
//!
//! Each WAV (16 kHz mono) is scored as the send-message flow scores the
//! answer after a read-back: by default by the second-stage answer scorer
//! ([`wakeguard::answer::AnswerScorer`], what the flow uses by default;
//! a clip in which it finds no speech is unclear), or with
//! `--scoring keyword` from the keyword model's highest smoothed
//! `yes`/`no`/`cancel` posteriors ([`wakeguard::intent::answer_scores`]);
//! then read with the gate's default rule ([`wakeguard::gate::GateConfig::answer_verdict`]:
//! score >= 0.8 and 0.3 above the other two). Prints, per folder, the number
//! of clips and the share read as yes, no, cancel and unclear. Only "yes"
//! confirms a message; everything else cancels it. With `--clips`, every
//! clip's three scores and verdict are printed too (a line per clip before
//! its folder's line; JSON objects with `--json`), to see which recordings
//! fail and by how much.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wakeguard::answer::AnswerScorer;
use wakeguard::audit::AnswerVerdict;
use wakeguard::detector::{Detector, DetectorConfig};
use wakeguard::gate::GateConfig;
use wakeguard::intent::answer_scores;
use wakeguard::model::KeywordModel;

/// Acceptance rate of the read-back answer on folders of recordings.
#[derive(Parser, Debug)]
#[command(name = "confirm_eval")]
struct Cli {
    /// What scores the answer: the second stage (`embedding`, the flow's
    /// default) or the keyword model's posteriors (`keyword`)
    #[arg(long, value_name = "SCORER", default_value = "embedding")]
    scoring: Scoring,
    /// Answer head ONNX for `--scoring embedding` [default: the embedded head]
    #[arg(long, value_name = "PATH")]
    answer_head: Option<PathBuf>,
    /// ONNX model with wakeguard metadata [default: the model embedded in the crate]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// One JSON object per folder (and per clip with --clips)
    #[arg(long)]
    json: bool,
    /// Also print every clip's scores and verdict
    #[arg(long)]
    clips: bool,
    /// Folders of 16 kHz mono WAV clips
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Scoring {
    Embedding,
    Keyword,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("confirm_eval: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn wavs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("{}: no .wav files", dir.display()));
    }
    Ok(out)
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        scoring,
        answer_head,
        model: model_path,
        json,
        clips,
        dirs,
    } = cli;
    let model = Arc::new(
        match &model_path {
            Some(p) => KeywordModel::from_path(p),
            None => KeywordModel::embedded(),
        }
        .map_err(|e| e.to_string())?,
    );
    let mut detector =
        Detector::new(model, DetectorConfig::default()).map_err(|e| e.to_string())?;
    let mut scorer = match scoring {
        Scoring::Embedding => Some(
            match &answer_head {
                Some(p) => {
                    let head = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    AnswerScorer::with_head(&head)
                }
                None => AnswerScorer::embedded(),
            }
            .map_err(|e| e.to_string())?,
        ),
        Scoring::Keyword => None,
    };
    let rule = GateConfig::default();
    if !json {
        println!("| folder | clips | yes | no | cancel | unclear |\n|---|---|---|---|---|---|");
    }
    for dir in &dirs {
        let files = wavs(dir)?;
        let mut counts = [0usize; 4];
        for f in &files {
            let pcm = wakeguard::audio::read_wav(f)
                .map_err(|e| e.to_string())?
                .to_i16();
            let [yes, no, cancel] = match scorer.as_mut() {
                Some(s) => s
                    .score(&pcm)
                    .map_err(|e| e.to_string())?
                    .map_or([0.0; 3], |a| [a.yes, a.no, a.cancel]),
                None => answer_scores(&mut detector, &pcm).map_err(|e| e.to_string())?,
            };
            let k = match rule.answer_verdict(yes, no, cancel) {
                AnswerVerdict::Yes => 0,
                AnswerVerdict::No => 1,
                AnswerVerdict::Cancel => 2,
                _ => 3,
            };
            counts[k] += 1;
            if clips {
                let verdict = ["yes", "no", "cancel", "unclear"][k];
                if json {
                    println!(
                        "{{\"clip\": {}, \"yes\": {yes:.4}, \"no\": {no:.4}, \"cancel\": {cancel:.4}, \"verdict\": \"{verdict}\"}}",
                        serde_json::Value::from(f.display().to_string())
                    );
                } else {
                    println!(
                        "| {} | yes {yes:.4} no {no:.4} cancel {cancel:.4} | {verdict} | | | |",
                        f.display()
                    );
                }
            }
        }
        let n = files.len() as f64;
        let pct = |k: usize| 100.0 * counts[k] as f64 / n;
        if json {
            println!(
                "{{\"folder\": {}, \"clips\": {}, \"yes\": {:.2}, \"no\": {:.2}, \"cancel\": {:.2}, \"unclear\": {:.2}}}",
                serde_json::Value::from(dir.display().to_string()),
                files.len(),
                pct(0),
                pct(1),
                pct(2),
                pct(3)
            );
        } else {
            println!(
                "| {} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
                dir.display(),
                files.len(),
                pct(0),
                pct(1),
                pct(2),
                pct(3)
            );
        }
    }
    Ok(())
}
