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
use std::process::ExitCode;
use std::sync::Arc;

use wakeguard::audio::{WavOptions, read_wav_with};
use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

const USAGE: &str = "usage: features [--preset kaldi|wakeguard_v1] [--convert] FILE.wav\n\
     Prints one MFCC frame per line (comma-separated, no header) on stdout.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("features: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut preset = "kaldi".to_string();
    let mut options = WavOptions::default();
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--preset" => preset = args.next().ok_or("--preset needs a value")?,
            "--convert" => options = WavOptions::convert(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}\n{USAGE}")),
            _ if file.is_none() => file = Some(arg),
            _ => return Err(format!("more than one input file\n{USAGE}")),
        }
    }
    let file = file.ok_or(USAGE)?;
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
