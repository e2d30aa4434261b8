//! Listen on a microphone until Ctrl-C: wake words, or the whole
//! send-message flow when contacts are given, with the read-back spoken.
//!
//! ```text
//! cargo run --release --features cpal --example listen -- --list-devices
//! cargo run --release --features cpal --example listen -- [--device NAME] [--json]
//! cargo run --release --features cpal --example listen -- --contacts CONTACTS.toml [--tts-cmd espeak-ng] [--json]
//! ```
//!
//! Without `--contacts`, every wake word heard is printed (the lines of
//! `detect`). With them, the flow's events are printed exactly as
//! `send_message` prints them, and a confirmed message is "dispatched" by
//! printing it. The read-back is spoken by `--tts-cmd CMD` (run as
//! `CMD... "<prompt>"`, e.g. `espeak-ng` or `say`; the answer window opens
//! `--echo-guard-ms` after the command exits), or else printed to stderr and
//! taken to last as long as speaking it would, as in `send_message`.
//!
//! The audio callback only copies into a lock-free ring; a worker thread
//! runs the detector and the flow (see `wakeguard::live`).

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;

use wakeguard::contacts::MatchConfig;
use wakeguard::contacts_file::load_contacts;
use wakeguard::detector::{Detection, Detector};
use wakeguard::features::MfccPlan;
use wakeguard::gate::{ConfirmedMessage, GateStateKind};
use wakeguard::intent::{FlowConfig, FlowEvent, MessageFlow};
use wakeguard::live::mic::{DeviceFormat, MicOptions, input_devices, open_microphone};
use wakeguard::live::{
    Conversation, DEFAULT_ECHO_GUARD, EstimatedVoice, LiveInput, Pulled, Voice, VoiceError,
};
use wakeguard::model::KeywordModel;
use wakeguard::report;

/// Listen on a microphone: wake words, or the send-message flow with contacts.
#[derive(Parser, Debug)]
#[command(name = "listen")]
struct Cli {
    /// List the input devices and exit
    #[arg(long)]
    list_devices: bool,
    /// Input device: its id (see --list-devices), the part after "host:", its name, or a
    /// part of its name [default: the system's default input]
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// Run the send-message flow with these enrolled contacts (as send_message)
    #[arg(long, value_name = "CONTACTS.toml")]
    contacts: Option<PathBuf>,
    /// ONNX model with wakeguard metadata [default: the model embedded in the crate]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// One JSON object per line for every event
    #[arg(long)]
    json: bool,
    /// Speak the read-back with this command, the prompt appended as its last argument
    /// (e.g. "espeak-ng", "say") [default: print it to stderr]
    #[arg(long, value_name = "CMD")]
    tts_cmd: Option<String>,
    /// With --tts-cmd: the answer window opens this long after the command has exited
    /// (output latency and the room's echo)
    #[arg(long, value_name = "MS", default_value_t = (DEFAULT_ECHO_GUARD / 16) as u32)]
    echo_guard_ms: u32,
    /// Stop after this many seconds of input [default: until Ctrl-C]
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Audio the capture ring holds: how far the worker may fall behind before audio is lost
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    ring_seconds: f32,
    /// Ask the device for this sample rate, Hz (with --channels) [default: 16 kHz mono if
    /// offered, else the device's default]
    #[arg(long, value_name = "HZ", requires = "channels")]
    rate: Option<u32>,
    /// Ask the device for this many channels (with --rate)
    #[arg(long, value_name = "N", requires = "rate")]
    channels: Option<u16>,
    /// Print the gate's audit log at the end
    #[arg(long)]
    audit: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("listen: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    if cli.list_devices {
        let devices = input_devices().map_err(|e| e.to_string())?;
        if devices.is_empty() {
            return Err("no audio input device found".into());
        }
        for d in devices {
            let mark = if d.default { "*" } else { " " };
            println!("{mark} {}  {}", d.id, d.name);
        }
        return Ok(());
    }
    let model = Arc::new(
        match &cli.model {
            Some(p) => KeywordModel::from_path(p),
            None => KeywordModel::embedded(),
        }
        .map_err(|e| e.to_string())?,
    );
    let config = FlowConfig::default();
    let mut job = match &cli.contacts {
        None => Job::Wake {
            detector: Box::new(
                Detector::new(Arc::clone(&model), config.detector.clone())
                    .map_err(|e| e.to_string())?,
            ),
            wake_labels: config.wake_labels.clone(),
        },
        Some(path) => {
            let plan = Arc::new(
                MfccPlan::new(model.metadata().front_end().map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?,
            );
            let book = load_contacts(path, &plan, config.speech_rms, MatchConfig::default())
                .map_err(|e| e.to_string())?;
            let flow = MessageFlow::new(model, book, config).map_err(|e| e.to_string())?;
            let (voice, guard) = match &cli.tts_cmd {
                Some(cmd) => (
                    AnyVoice::Command(CommandVoice::new(cmd)?),
                    u64::from(cli.echo_guard_ms) * 16,
                ),
                None => (AnyVoice::Print(PrintVoice::default()), 0),
            };
            Job::Flow {
                conversation: Box::new(Conversation::with_voice(flow, voice, guard)),
                sent: 0,
            }
        }
    };

    let options = MicOptions {
        device: cli.device.clone(),
        ring_seconds: cli.ring_seconds,
        limit_samples: cli.seconds.map(|s| (s.max(0.0) * 16_000.0).round() as u64),
        format: match (cli.rate, cli.channels) {
            (Some(rate), Some(channels)) => DeviceFormat::Exact { rate, channels },
            _ => DeviceFormat::Auto,
        },
        ..MicOptions::default()
    };
    let (mic, input) = open_microphone(&options).map_err(|e| e.to_string())?;
    eprintln!(
        "listen: {} at {} Hz, {} channel(s), {}; Ctrl-C to stop",
        mic.device(),
        mic.sample_rate(),
        mic.channels(),
        mic.sample_format()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;

    let json = cli.json;
    let audit = cli.audit;
    let worker = std::thread::Builder::new()
        .name("wakeguard-worker".into())
        .spawn(move || work(input, &mut job, &stop, json, audit))
        .map_err(|e| format!("cannot start the worker: {e}"))?;
    let result = worker
        .join()
        .unwrap_or_else(|_| Err("the worker panicked".into()));
    drop(mic);
    result
}

/// What the worker runs on each hop.
enum Job {
    Wake {
        detector: Box<Detector>,
        wake_labels: Vec<String>,
    },
    Flow {
        conversation: Box<Conversation<AnyVoice>>,
        sent: usize,
    },
}

/// The worker: pull hops until the input ends or Ctrl-C, then finish.
fn work(
    mut input: LiveInput,
    job: &mut Job,
    stop: &AtomicBool,
    json: bool,
    audit: bool,
) -> Result<(), String> {
    let nap = Duration::from_micros(input.hop() as u64 * 1_000_000 / 16_000 / 4);
    let mut events = Vec::new();
    let mut detections = Vec::new();
    loop {
        match input.pull() {
            Pulled::Audio(pcm) => match job {
                Job::Wake {
                    detector,
                    wake_labels,
                } => {
                    detector
                        .push(pcm, |d| detections.push(d))
                        .map_err(|e| e.to_string())?;
                    print_detections(&mut detections, wake_labels, json);
                }
                Job::Flow { conversation, sent } => {
                    let message = conversation
                        .push(pcm, &mut events)
                        .map_err(|e| e.to_string())?;
                    let now = conversation.flow().now();
                    print_events(&mut events, json);
                    if let Some(message) = message {
                        dispatch(message, now, json);
                        *sent += 1;
                    }
                }
            },
            Pulled::Lost { samples } => {
                if let Job::Flow { conversation, .. } = job {
                    conversation.audio_lost(samples, &mut events);
                    print_events(&mut events, json);
                } else {
                    eprintln!("listen: about {samples} samples of audio lost");
                }
            }
            Pulled::Empty => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(nap);
            }
            Pulled::Ended => break,
        }
    }
    match job {
        Job::Wake {
            detector,
            wake_labels,
        } => {
            detector
                .finish(|d| detections.push(d))
                .map_err(|e| e.to_string())?;
            print_detections(&mut detections, wake_labels, json);
        }
        Job::Flow { conversation, sent } => {
            // Listening stops: a request still in progress is cancelled.
            if conversation.flow().gate().state() != GateStateKind::Idle {
                conversation.cancel(&mut events);
                print_events(&mut events, json);
            }
            if audit {
                for entry in conversation.flow().gate().audit() {
                    println!("{entry}");
                }
            }
            if !json {
                println!("{sent} message(s) dispatched");
            }
        }
    }
    let lost = input.lost_frames();
    if lost > 0 || input.device_losses() > 0 {
        eprintln!(
            "listen: {} overrun(s), {lost} frames lost; {} loss(es) reported by the device",
            input.overruns(),
            input.device_losses()
        );
    }
    Ok(())
}

fn print_detections(detections: &mut Vec<Detection>, wake_labels: &[String], json: bool) {
    for d in detections.drain(..) {
        if !wake_labels.iter().any(|l| **l == *d.label) {
            continue;
        }
        if json {
            println!("{}", report::detection_json(&d));
        } else {
            println!("{}", report::detection_text(&d));
        }
    }
}

fn print_events(events: &mut Vec<FlowEvent>, json: bool) {
    for e in events.drain(..) {
        let line = report::flow_event(&e);
        println!("{}", if json { line.json() } else { line.text() });
    }
}

fn dispatch(message: ConfirmedMessage, now: u64, json: bool) {
    message.dispatch(|contact, name, audio| {
        if json {
            println!(
                "{}",
                report::dispatched(now, contact, name, audio.len()).json()
            );
        } else {
            let secs = audio.len() as f64 / 16_000.0;
            println!(
                "{:8.3}  DISPATCHED {secs:.1} s of audio to {name} ({contact})",
                now as f64 / 16_000.0
            );
        }
    });
}

/// The read-back printed to stderr, taking as long as speaking it would.
#[derive(Debug, Default)]
struct PrintVoice {
    inner: EstimatedVoice,
}

impl Voice for PrintVoice {
    fn start(&mut self, prompt: &str, at: u64) -> Result<(), VoiceError> {
        eprintln!("listen: (read-back) {prompt}");
        self.inner.start(prompt, at)
    }
    fn finished(&mut self, now: u64) -> Result<bool, VoiceError> {
        self.inner.finished(now)
    }
    fn stop(&mut self) {
        self.inner.stop();
    }
}

/// The read-back spoken by a text-to-speech command.
#[derive(Debug)]
struct CommandVoice {
    program: String,
    args: Vec<String>,
    child: Option<Child>,
}

impl CommandVoice {
    fn new(cmd: &str) -> Result<Self, String> {
        let mut words = cmd.split_whitespace().map(String::from);
        let program = words.next().ok_or("--tts-cmd is empty")?;
        Ok(CommandVoice {
            program,
            args: words.collect(),
            child: None,
        })
    }
}

impl Voice for CommandVoice {
    fn start(&mut self, prompt: &str, _at: u64) -> Result<(), VoiceError> {
        self.stop();
        let child = Command::new(&self.program)
            .args(&self.args)
            .arg(prompt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    fn finished(&mut self, _now: u64) -> Result<bool, VoiceError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(false);
        };
        match child.try_wait()? {
            None => Ok(false),
            Some(status) => {
                self.child = None;
                if status.success() {
                    Ok(true)
                } else {
                    Err(VoiceError::Failed {
                        status: status.to_string(),
                    })
                }
            }
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Either voice, chosen at run time.
#[derive(Debug)]
enum AnyVoice {
    Print(PrintVoice),
    Command(CommandVoice),
}

impl Voice for AnyVoice {
    fn start(&mut self, prompt: &str, at: u64) -> Result<(), VoiceError> {
        match self {
            Self::Print(v) => v.start(prompt, at),
            Self::Command(v) => v.start(prompt, at),
        }
    }
    fn finished(&mut self, now: u64) -> Result<bool, VoiceError> {
        match self {
            Self::Print(v) => v.finished(now),
            Self::Command(v) => v.finished(now),
        }
    }
    fn stop(&mut self) {
        match self {
            Self::Print(v) => v.stop(),
            Self::Command(v) => v.stop(),
        }
    }
}
