//! Measures the live path in real time (issue 15), without a microphone: a
//! pacer thread plays the audio callback (10 ms buffers, on the clock, into
//! the capture ring), the worker pulls hops as `listen` does.
//!
//! ```text
//! cargo run --release --example live_bench -- --keywords DIR [--per-label 20] [--flows testdata/flows]
//! ```
//!
//! 1. **Wake-word latency**: clips of each wake word under `DIR/<label>/`
//!    (e.g. the unpacked corpus' `keywords/`), each followed by 1.5 s of
//!    silence. Latency is the wall time from the callback that delivered the
//!    word's last loud sample (the last 10 ms frame within 20 dB of the clip's
//!    loudest) to the moment the worker has the detection. Prints p50, p95
//!    and the share of one core the worker used (its thread's CPU time over
//!    the stream's length, from /proc/thread-self/stat).
//! 2. **CPU with and without a pending request**: the bundled flows under
//!    `--flows` (each followed by 12 s of silence, so that every request
//!    is decided before the next begins) through the whole
//!    send-message conversation; the worker's time per hop, summed over the
//!    hops where the gate was idle and where a request was pending, as a
//!    share of the audio time of those hops.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use wakeguard::audio::read_wav;
use wakeguard::contacts::MatchConfig;
use wakeguard::contacts_file::load_contacts;
use wakeguard::detector::Detector;
use wakeguard::features::MfccPlan;
use wakeguard::gate::GateStateKind;
use wakeguard::intent::{FlowConfig, MessageFlow};
use wakeguard::live::{
    CaptureProducer, Conversation, DEFAULT_HOP, LiveInput, Pulled, capture_ring,
};
use wakeguard::model::KeywordModel;

#[derive(Parser, Debug)]
#[command(name = "live_bench")]
struct Cli {
    /// Folder with one subfolder of WAV clips per wake word (alexa/, computer/, ...)
    #[arg(long, value_name = "DIR")]
    keywords: PathBuf,
    /// Clips per wake word (the first N by name after a seeded shuffle)
    #[arg(long, default_value_t = 20)]
    per_label: usize,
    /// Folder of the bundled flows (VOICE/contacts.toml and recordings)
    #[arg(long, default_value = "testdata/flows")]
    flows: PathBuf,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

const CALLBACK: usize = 160;

/// Plays `pcm` into `producer` in 10 ms buffers on the clock; returns the
/// instant each buffer was pushed.
fn pace(mut producer: CaptureProducer, pcm: Vec<i16>) -> std::thread::JoinHandle<Vec<Instant>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut pushed = Vec::with_capacity(pcm.len() / CALLBACK + 1);
        for (k, chunk) in pcm.chunks(CALLBACK).enumerate() {
            let due = start + Duration::from_micros(k as u64 * 10_000);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            producer.push(chunk);
            pushed.push(Instant::now());
        }
        pushed
    })
}

/// CPU time of the calling thread (Linux), from /proc/thread-self/stat.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the name: state (field 3), ..., utime (14) and stime (15).
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|x| x.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn run(cli: Cli) -> Result<(), String> {
    let model = Arc::new(KeywordModel::embedded().map_err(|e| e.to_string())?);
    let config = FlowConfig::default();

    // ---------------------------------------------------------- latency --
    let mut stream = Vec::new();
    let mut truth = Vec::new(); // (label, start sample, last loud sample)
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for label in &config.wake_labels {
        let dir = cli.keywords.join(label);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        files.sort();
        for i in (1..files.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            files.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for f in files.iter().take(cli.per_label) {
            let pcm = read_wav(f).map_err(|e| e.to_string())?.to_i16();
            let rms: Vec<f64> = pcm
                .chunks(160)
                .map(|c| {
                    (c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64).sqrt()
                })
                .collect();
            let peak = rms.iter().copied().fold(0.0, f64::max);
            let last = rms.iter().rposition(|&r| r >= peak / 10.0).unwrap_or(0);
            let start = stream.len() as u64;
            let end = start + ((last + 1) * 160).min(pcm.len()) as u64;
            truth.push((label.clone(), start, end));
            stream.extend_from_slice(&pcm);
            stream.extend(std::iter::repeat_n(0i16, 24_000));
        }
    }
    let audio_secs = stream.len() as f64 / 16_000.0;
    eprintln!(
        "latency: {} clips, {audio_secs:.0} s of audio in real time",
        truth.len()
    );
    let (producer, consumer) =
        capture_ring(1, 32_000, stream.len() as u64).map_err(|e| e.to_string())?;
    let mut input = LiveInput::new(consumer, 16_000, DEFAULT_HOP).map_err(|e| e.to_string())?;
    let mut detector =
        Detector::new(Arc::clone(&model), config.detector.clone()).map_err(|e| e.to_string())?;
    let pacer = pace(producer, stream);
    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    let nap = Duration::from_micros(DEFAULT_HOP as u64 * 1_000_000 / 16_000 / 4);
    let mut found = Vec::new(); // (label, end_sample, instant, samples pulled)
    let mut pulled = 0u64;
    loop {
        match input.pull() {
            Pulled::Audio(pcm) => {
                let mut ds = Vec::new();
                detector
                    .push(pcm, |d| ds.push(d))
                    .map_err(|e| e.to_string())?;
                pulled += pcm.len() as u64;
                let now = Instant::now();
                for d in ds {
                    found.push((d.label.to_string(), d.end_sample, now, pulled));
                }
            }
            Pulled::Lost { samples } => return Err(format!("{samples} samples lost")),
            Pulled::Empty => std::thread::sleep(nap),
            Pulled::Ended => break,
        }
    }
    let cpu = thread_cpu() - cpu0;
    let wall = wall0.elapsed();
    let pushed = pacer.join().map_err(|_| "pacer panicked")?;
    let mut lat = Vec::new();
    let mut audio_lat = Vec::new();
    let mut missed = 0;
    for (label, start, end) in &truth {
        let hit = found
            .iter()
            .find(|(l, e, _, _)| l == label && *e >= *start && *e <= end + 16_000);
        match hit {
            Some((_, _, at, pulled)) => {
                // The callback buffer holding the word's last loud sample.
                let k = ((*end - 1) as usize / CALLBACK).min(pushed.len() - 1);
                lat.push(at.saturating_duration_since(pushed[k]).as_secs_f64() * 1_000.0);
                // How much audio after the word's end the detector needed.
                audio_lat.push(pulled.saturating_sub(*end) as f64 / 16.0);
            }
            None => missed += 1,
        }
    }
    lat.sort_by(f64::total_cmp);
    audio_lat.sort_by(f64::total_cmp);
    if lat.is_empty() {
        return Err("no wake word detected".into());
    }
    println!(
        "wake-word latency over {} detected clips ({missed} missed): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat[lat.len() - 1]
    );
    println!(
        "  of which audio the detector needed after the word's end (to the end of the hop that gave the event): p50 {:.0} ms, p95 {:.0} ms",
        percentile(&audio_lat, 0.5),
        percentile(&audio_lat, 0.95)
    );
    println!(
        "listening for wake words: worker CPU {:.2} s over {:.1} s = {:.1} % of one core",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );

    // ------------------------------------------------ CPU by gate state --
    let plan = Arc::new(
        MfccPlan::new(model.metadata().front_end().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
    );
    let mut voices: Vec<PathBuf> = std::fs::read_dir(&cli.flows)
        .map_err(|e| format!("{}: {e}", cli.flows.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("contacts.toml").exists())
        .collect();
    voices.sort();
    let (mut idle_t, mut idle_n, mut busy_t, mut busy_n) = (0.0f64, 0usize, 0.0f64, 0usize);
    let mut dispatched = 0;
    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    for dir in voices {
        let book = load_contacts(
            &dir.join("contacts.toml"),
            &plan,
            config.speech_rms,
            MatchConfig::default(),
        )
        .map_err(|e| e.to_string())?;
        let flow = MessageFlow::new(Arc::clone(&model), book, config.clone())
            .map_err(|e| e.to_string())?;
        let mut conv = Conversation::new(flow);
        let mut recs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "wav")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("enroll_"))
            })
            .collect();
        recs.sort();
        let mut pcm = Vec::new();
        for r in &recs {
            pcm.extend(read_wav(r).map_err(|e| e.to_string())?.to_i16());
            pcm.extend(std::iter::repeat_n(0i16, 16_000 * 12));
        }
        let n = pcm.len() as u64;
        let (producer, consumer) = capture_ring(1, 32_000, n).map_err(|e| e.to_string())?;
        let mut input = LiveInput::new(consumer, 16_000, DEFAULT_HOP).map_err(|e| e.to_string())?;
        let pacer = pace(producer, pcm);
        let mut events = Vec::new();
        loop {
            match input.pull() {
                Pulled::Audio(hop) => {
                    let pending = conv.flow().gate().state() != GateStateKind::Idle;
                    let t = Instant::now();
                    let m = conv.push(hop, &mut events).map_err(|e| e.to_string())?;
                    let dt = t.elapsed().as_secs_f64();
                    if let Some(m) = m {
                        m.dispatch(|_, _, _| dispatched += 1);
                    }
                    events.clear();
                    if pending || conv.flow().gate().state() != GateStateKind::Idle {
                        busy_t += dt;
                        busy_n += hop.len();
                    } else {
                        idle_t += dt;
                        idle_n += hop.len();
                    }
                }
                Pulled::Lost { samples } => return Err(format!("{samples} samples lost")),
                Pulled::Empty => std::thread::sleep(nap),
                Pulled::Ended => break,
            }
        }
        pacer.join().map_err(|_| "pacer panicked")?;
    }
    let cpu = thread_cpu() - cpu0;
    let wall = wall0.elapsed();
    let share = |t: f64, n: usize| 100.0 * t / (n as f64 / 16_000.0);
    println!(
        "send-message flows ({dispatched} dispatched): worker CPU {:.2} s over {:.1} s = {:.1} % of one core; \
         per hop, idle {:.2} % of one core ({:.0} s of audio), with a request pending {:.2} % ({:.0} s)",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        share(idle_t, idle_n),
        idle_n as f64 / 16_000.0,
        share(busy_t, busy_n),
        busy_n as f64 / 16_000.0
    );
    Ok(())
}
