//! The whole "send a message to X" flow on a recording that plays the role
//! of the microphone.
//!
//! ```text
//! cargo run --release --example send_message -- --contacts CONTACTS.toml [--json] [--audit] [--voice-check[=MIN]] FILE.wav
//! ```
//!
//! `CONTACTS.toml` enrolls each allowed recipient explicitly:
//!
//! ```toml
//! [[contact]]
//! name = "Alice"
//! samples = ["alice1.wav", "alice2.wav"]   # the user saying the name; paths relative to this file
//!
//! [[contact]]
//! name = "Bob"
//! samples = ["bob1.wav"]
//! blocked = true
//! ```
//!
//! The read-back prompt (e.g. "Send a 6-second message to Alice?") is
//! assumed to take as long as speaking it would: 0.3 s plus 65 ms per
//! character (about 15 characters per second, a typical text-to-speech
//! rate), so "Send a 6-second message to Alice?" takes 2.45 s. Whatever
//! speech follows in the recording is the answer.
//!
//! With `--json`, one JSON object per line for every flow event:
//! `{"event": "wake"|"intent"|"name"|"contact"|"readback"|"answer"|"confirmed"|"cancelled"|"dispatched"|..., "time": s, ...}`.
//! `--audit` prints the gate's audit log (every decision with its scores,
//! never audio) at the end. `--voice-check` turns the gate's voice check on
//! (README, "Who is answering"): a "yes" must come from the request's
//! voice, at a similarity of at least MIN (default
//! `wakeguard::voice::DEFAULT_MIN_SIMILARITY`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use wakeguard::audio::{open_wav, pcm_i16_from_f32};
use wakeguard::contacts::MatchConfig;
use wakeguard::contacts_file::load_contacts;
use wakeguard::features::MfccPlan;
use wakeguard::gate::{ConfirmedMessage, VoiceCheck};
use wakeguard::intent::{FlowConfig, FlowEvent, MessageFlow, SimulatedDevice};
use wakeguard::model::KeywordModel;
use wakeguard::report;
use wakeguard::voice::DEFAULT_MIN_SIMILARITY;

/// Run the whole send-message flow on a recording that plays the microphone.
#[derive(Parser, Debug)]
#[command(name = "send_message")]
struct Cli {
    /// The enrolled contacts: [[contact]] tables with name, samples (paths relative to the
    /// file) and optional blocked = true
    #[arg(long, value_name = "CONTACTS.toml")]
    contacts: PathBuf,
    /// ONNX model with wakeguard metadata [default: the model embedded in the crate]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// One JSON object per line for every flow event
    #[arg(long)]
    json: bool,
    /// Print the audit log (every decision with its scores) at the end
    #[arg(long)]
    audit: bool,
    /// Require the answer's voice to match the request's, at this least cosine similarity
    /// [default when given without a value: wakeguard::voice::DEFAULT_MIN_SIMILARITY]
    #[arg(long, value_name = "MIN", require_equals = true)]
    voice_check: Option<Option<f32>>,
    /// The recording (16 kHz; mono, or multichannel which is averaged)
    #[arg(value_name = "FILE.wav")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("send_message: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        contacts,
        model: model_path,
        json,
        audit,
        voice_check,
        file,
    } = cli;
    let model = Arc::new(
        match &model_path {
            Some(p) => KeywordModel::from_path(p),
            None => KeywordModel::embedded(),
        }
        .map_err(|e| e.to_string())?,
    );
    let mut config = FlowConfig::default();
    if let Some(min) = voice_check {
        config.gate.voice_check = VoiceCheck::Required {
            min_similarity: min.unwrap_or(DEFAULT_MIN_SIMILARITY),
        };
    }
    let plan = Arc::new(
        MfccPlan::new(model.metadata().front_end().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
    );
    let book = load_contacts(&contacts, &plan, config.speech_rms, MatchConfig::default())
        .map_err(|e| e.to_string())?;
    let flow = MessageFlow::new(model, book, config).map_err(|e| e.to_string())?;
    let mut source = open_wav(&file, true).map_err(|e| e.to_string())?;

    let mut device = SimulatedDevice::new(flow);
    let mut buf = vec![0.0f32; 1_600];
    let mut events = Vec::new();
    let mut pcm = Vec::with_capacity(buf.len());
    let mut sent = 0;
    let mut handle = |message: Option<ConfirmedMessage>, now: u64, events: &mut Vec<FlowEvent>| {
        print_events(events, json);
        if let Some(message) = message {
            let at = now as f64 / 16_000.0;
            message.dispatch(|contact, name, audio| {
                if json {
                    println!(
                        "{}",
                        report::dispatched(now, contact, name, audio.len()).json()
                    );
                } else {
                    let secs = audio.len() as f64 / 16_000.0;
                    println!("{at:8.3}  DISPATCHED {secs:.1} s of audio to {name} ({contact})");
                }
            });
            sent += 1;
        }
    };
    loop {
        let n = source.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        pcm_i16_from_f32(&buf[..n], &mut pcm).map_err(|e| e.to_string())?;
        let confirmed = device.push(&pcm, &mut events).map_err(|e| e.to_string())?;
        handle(confirmed, device.flow().now(), &mut events);
    }
    // End of the recording: silence until the request in progress is decided.
    let confirmed = device
        .drain(16_000 * 30, &mut events)
        .map_err(|e| e.to_string())?;
    handle(confirmed, device.flow().now(), &mut events);
    let flow = device.flow();
    if audit {
        for entry in flow.gate().audit() {
            println!("{entry}");
        }
    }
    if !json {
        println!("{sent} message(s) dispatched");
    }
    Ok(())
}

fn print_events(events: &mut Vec<FlowEvent>, json: bool) {
    for e in events.drain(..) {
        let line = report::flow_event(&e);
        println!("{}", if json { line.json() } else { line.text() });
    }
}
