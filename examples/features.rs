//! Print MFCC features of a WAV file, one frame per line, comma-separated,
//! no header.
//!
//! ```text
//! cargo run --release --example features -- [--preset kaldi|wakeguard_v1] [--convert] FILE.wav
//! ```
//!
//! `--preset` defaults to `kaldi` (Kaldi `compute-mfcc-feats --dither=0
//! --use-energy=false`). The file must be 16 kHz mono unless `--convert` is
//! given, which downmixes and resamples it.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wakeguard::audio::{WavOptions, read_wav_with};
use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

/// Print MFCC features of a WAV file: one frame per line, comma-separated, no header.
#[derive(Parser, Debug)]
#[command(name = "features")]
struct Cli {
    /// Front-end preset (kaldi: Kaldi compute-mfcc-feats --dither=0 --use-energy=false)
    #[arg(long, default_value = "kaldi", value_parser = ["kaldi", "wakeguard_v1"])]
    preset: String,
    /// Downmix and resample the file if it is not 16 kHz mono
    #[arg(long)]
    convert: bool,
    /// The recording
    #[arg(value_name = "FILE.wav")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("features: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        preset,
        convert,
        file,
    } = cli;
    let options = if convert {
        WavOptions::convert()
    } else {
        WavOptions::default()
    };
    let config = match preset.as_str() {
        "kaldi" => MfccConfig::kaldi(),
        "wakeguard_v1" => MfccConfig::wakeguard_v1(),
        other => return Err(format!("unknown preset {other:?} (kaldi, wakeguard_v1)")),
    };
    let audio = read_wav_with(&file, options).map_err(|e| e.to_string())?;
    let plan = Arc::new(MfccPlan::new(config).map_err(|e| e.to_string())?);
    let mut stream = MfccStream::new(plan, 1).map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut io_err = None;
    stream
        .push_with(&audio.samples, |_, frame| {
            if io_err.is_some() {
                return;
            }
            let mut line = String::with_capacity(frame.len() * 12);
            for (i, v) in frame.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&format!("{v:.6}"));
            }
            if let Err(e) = writeln!(out, "{line}") {
                io_err = Some(e);
            }
        })
        .map_err(|e| e.to_string())?;
    if let Some(e) = io_err {
        return Err(format!("writing stdout: {e}"));
    }
    out.flush().map_err(|e| format!("writing stdout: {e}"))
}
