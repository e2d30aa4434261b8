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

use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("featurize: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: featurize [--preset wakeguard_v1|kaldi] --clip-samples N IN.i16 OUT.f32";
    let mut preset = "wakeguard_v1".to_string();
    let mut clip_samples: Option<usize> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--preset" => preset = args.next().ok_or(usage)?,
            "--clip-samples" => {
                let v = args.next().ok_or(usage)?;
                clip_samples = Some(v.parse().map_err(|_| format!("bad --clip-samples {v}"))?);
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}\n{usage}")),
            _ => files.push(arg),
        }
    }
    let (Some(n), [input, output]) = (clip_samples, files.as_slice()) else {
        return Err(usage.into());
    };
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
    let mut reader = BufReader::new(File::open(input).map_err(|e| format!("{input}: {e}"))?);
    let mut writer = BufWriter::new(File::create(output).map_err(|e| format!("{output}: {e}"))?);
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
