//! Batch feature extraction for model training: the training pipeline gets
//! its features from the crate's own front end, so training and runtime
//! cannot disagree.
//!
//! ```text
//! cargo run --release --example featurize -- [--preset wakeguard_v1|kaldi] --clip-samples N IN.i16 OUT.f32
//! ```
//!
//! `IN.i16` holds clips of exactly `N` samples each, back to back, as raw
//! little-endian 16-bit PCM at 16 kHz. `OUT.f32` receives, per clip, every
//! frame of its features (`frames_for(N) × n_mfcc` little-endian `f32`),
//! each clip processed by a fresh stream. Prints `clips frames dim` on stdout.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

/// Batch feature extraction for model training.
#[derive(Parser, Debug)]
#[command(name = "featurize")]
struct Cli {
    /// Front-end preset
    #[arg(long, default_value = "wakeguard_v1", value_parser = ["wakeguard_v1", "kaldi"])]
    preset: String,
    /// Samples per clip
    #[arg(long, value_name = "N")]
    clip_samples: usize,
    /// Clips of N samples back to back, raw little-endian 16-bit PCM at 16 kHz
    #[arg(value_name = "IN.i16")]
    input: String,
    /// Features out: every frame of every clip, little-endian f32
    #[arg(value_name = "OUT.f32")]
    output: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("featurize: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        preset,
        clip_samples: n,
        input,
        output,
    } = cli;
    let config = match preset.as_str() {
        "kaldi" => MfccConfig::kaldi(),
        "wakeguard_v1" => MfccConfig::wakeguard_v1(),
        other => return Err(format!("unknown preset {other:?}")),
    };
    let plan = Arc::new(MfccPlan::new(config).map_err(|e| e.to_string())?);
    let frames = plan.frames_for(n);
    if frames == 0 {
        return Err(format!("clips of {n} samples are shorter than one frame"));
    }
    let mut reader = BufReader::new(File::open(&input).map_err(|e| format!("{input}: {e}"))?);
    let mut writer = BufWriter::new(File::create(&output).map_err(|e| format!("{output}: {e}"))?);
    let mut stream = MfccStream::new(plan.clone(), 1).map_err(|e| e.to_string())?;
    let mut bytes = vec![0u8; 2 * n];
    let mut pcm = vec![0i16; n];
    let mut out = Vec::with_capacity(frames * plan.n_features() * 4);
    let mut clips = 0usize;
    loop {
        match read_full(&mut reader, &mut bytes).map_err(|e| format!("{input}: {e}"))? {
            0 => break,
            got if got < bytes.len() => {
                return Err(format!(
                    "{input}: ends inside clip {clips} ({got} of {} bytes)",
                    bytes.len()
                ));
            }
            _ => {}
        }
        for (s, b) in pcm.iter_mut().zip(bytes.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        stream.reset();
        out.clear();
        stream
            .push_with(&pcm, |_, f| {
                for v in f {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            })
            .map_err(|e| e.to_string())?;
        writer
            .write_all(&out)
            .map_err(|e| format!("{output}: {e}"))?;
        clips += 1;
    }
    writer.flush().map_err(|e| format!("{output}: {e}"))?;
    println!("{clips} {frames} {}", plan.n_features());
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}
