//! Whole send-message requests, judged stage by stage: where requests are
//! lost, which contact the read-back names, and what is sent.
//!
//! ```text
//! cargo run --release --example flow_eval -- [--split dev|test] [--kind KIND] [--min-score S] [--min-margin M] [--scale X] [--answer-scoring embedding|keyword] [--answer-head HEAD.onnx] [--flows-out FILE.jsonl] MANIFEST.jsonl
//! ```
//!
//! `MANIFEST.jsonl` (made by `models/train/make_name_flows.py`) lists one
//! flow per line: `wav` and `contacts` (a `CONTACTS.toml`, as for
//! `send_message`), paths relative to the manifest; `kind` (`intended`,
//! `housemate`: must reach the named contact; `unknown`, `similar`,
//! `blocked`: must be refused before the read-back); `expect` (the contact
//! that must be read back, or null); `split`. Each flow runs through
//! [`SimulatedDevice`] exactly as `send_message` runs a recording.
//!
//! Printed: per split and kind, how many flows reached each stage (wake
//! accepted, intent accepted, name cut out, name matched to the right
//! contact, read back with the right contact, answer accepted, delivered),
//! the losses at the name stage by reason, read-backs naming a wrong contact
//! and wrongful dispatches. `--flows-out` writes one JSON object per flow
//! with the match scores (best and runner-up contact, score, margin) for
//! calibration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use serde::Deserialize;
use serde_json::json;

use wakeguard::answer::AnswerScorer;
use wakeguard::audio::read_wav;
use wakeguard::audit::Decision;
use wakeguard::contacts::{ContactBook, MatchConfig};
use wakeguard::contacts_file::load_contacts;
use wakeguard::features::MfccPlan;
use wakeguard::gate::{CancelReason, GateEvent};
use wakeguard::intent::{AnswerScoring, FlowConfig, FlowEvent, MessageFlow, SimulatedDevice};
use wakeguard::model::KeywordModel;

/// Whole send-message requests, judged stage by stage.
#[derive(Parser, Debug)]
#[command(name = "flow_eval")]
struct Cli {
    /// Only flows of this split
    #[arg(long)]
    split: Option<String>,
    /// Only flows of this kind
    #[arg(long)]
    kind: Option<String>,
    /// Gate's contact_min_score [default: GateConfig::default()]
    #[arg(long, value_name = "S")]
    min_score: Option<f32>,
    /// Gate's contact_min_margin [default: GateConfig::default()]
    #[arg(long, value_name = "M")]
    min_margin: Option<f32>,
    /// MatchConfig::scale [default: MatchConfig::default()]
    #[arg(long, value_name = "X")]
    scale: Option<f32>,
    /// One JSON object per flow
    #[arg(long, value_name = "FILE.jsonl")]
    flows_out: Option<PathBuf>,
    /// What reads the answer: `embedding` (the second stage, the default) or
    /// `keyword` (the keyword model's posteriors)
    #[arg(long, value_name = "SCORER", default_value = "embedding")]
    answer_scoring: String,
    /// Answer head ONNX for the second stage [default: the embedded head]
    #[arg(long, value_name = "PATH")]
    answer_head: Option<PathBuf>,
    /// Model file [default: the embedded model]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    #[arg(value_name = "MANIFEST.jsonl")]
    manifest: PathBuf,
}

#[derive(Deserialize)]
struct Flow {
    wav: PathBuf,
    contacts: PathBuf,
    kind: String,
    expect: Option<String>,
    split: String,
}

/// Stages in order; a flow counts in every stage it reached.
const STAGES: [&str; 7] = [
    "wake",
    "intent",
    "name_cut",
    "name_right",
    "readback_right",
    "answer_yes",
    "delivered",
];

#[derive(Default)]
struct Outcome {
    reached: [bool; 7],
    match_info: Option<serde_json::Value>,
    /// Start and end of the cut-out name, in seconds.
    name_span: Option<(f64, f64)>,
    readback: Option<String>,
    dispatched: Option<String>,
    cancel: Option<CancelReason>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("flow_eval: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let root = cli
        .manifest
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let text = std::fs::read_to_string(&cli.manifest)
        .map_err(|e| format!("{}: {e}", cli.manifest.display()))?;
    let mut flows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let f: Flow = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: {e}", cli.manifest.display(), i + 1))?;
        if cli.split.as_ref().is_some_and(|s| *s != f.split)
            || cli.kind.as_ref().is_some_and(|k| *k != f.kind)
        {
            continue;
        }
        flows.push(f);
    }
    let model = Arc::new(
        match &cli.model {
            Some(p) => KeywordModel::from_path(p),
            None => KeywordModel::embedded(),
        }
        .map_err(|e| e.to_string())?,
    );
    let answer_scoring = match cli.answer_scoring.as_str() {
        "embedding" => AnswerScoring::SpeechEmbedding,
        "keyword" => AnswerScoring::KeywordModel,
        other => {
            return Err(format!(
                "--answer-scoring {other}: expected embedding or keyword"
            ));
        }
    };
    let mut config = FlowConfig {
        answer_scoring,
        ..FlowConfig::default()
    };
    if let Some(s) = cli.min_score {
        config.gate.contact_min_score = s;
    }
    if let Some(m) = cli.min_margin {
        config.gate.contact_min_margin = m;
    }
    let mut match_config = MatchConfig::default();
    if let Some(x) = cli.scale {
        match_config.scale = x;
    }
    let plan = Arc::new(
        MfccPlan::new(model.metadata().front_end().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
    );
    let answer = match &cli.answer_head {
        Some(p) => {
            let head = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(AnswerScorer::with_head(&head).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let mut out_lines = Vec::new();
    // (split, kind) -> counts per stage, name-stage loss reasons, wrong read-backs, wrong sends
    let mut table: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for f in &flows {
        // Enrolled afresh for every flow: a book is not shared between flows.
        let book = load_contacts(
            &root.join(&f.contacts),
            &plan,
            config.speech_rms,
            match_config,
        )
        .map_err(|e| e.to_string())?;
        let outcome = run_flow(
            &model,
            answer.as_ref(),
            book,
            &config,
            &root.join(&f.wav),
            f.expect.as_deref(),
        )?;
        let t = table.entry((f.split.clone(), f.kind.clone())).or_default();
        t.add(&outcome, f.expect.as_deref());
        out_lines.push(json!({
            "wav": f.wav, "kind": f.kind, "split": f.split, "expect": f.expect,
            "reached": STAGES.iter().zip(outcome.reached).filter(|(_, r)| *r).map(|(s, _)| *s).collect::<Vec<_>>(),
            "match": outcome.match_info, "name_span": outcome.name_span,
            "readback": outcome.readback,
            "dispatched": outcome.dispatched,
            "cancel": outcome.cancel.as_ref().map(CancelReason::to_string),
        }));
    }
    if let Some(path) = &cli.flows_out {
        let body: String = out_lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(path, body).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "contact_min_score {}, contact_min_margin {}, scale {}; {} flows",
        config.gate.contact_min_score,
        config.gate.contact_min_margin,
        match_config.scale,
        flows.len()
    );
    println!();
    println!(
        "| split | kind | flows | {} | refused at name (unknown / ambiguous / blocked) | wrong read-back | wrongful dispatch |",
        STAGES.join(" | ")
    );
    println!("|{}", "---|".repeat(STAGES.len() + 6));
    for ((split, kind), t) in &table {
        let stages: Vec<String> = t.reached.iter().map(|n| n.to_string()).collect();
        println!(
            "| {split} | {kind} | {} | {} | {} / {} / {} | {} | {} |",
            t.flows,
            stages.join(" | "),
            t.unknown,
            t.ambiguous,
            t.blocked,
            t.wrong_readback,
            t.wrong_dispatch
        );
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    flows: usize,
    reached: [usize; 7],
    unknown: usize,
    ambiguous: usize,
    blocked: usize,
    wrong_readback: usize,
    wrong_dispatch: usize,
}

impl Tally {
    fn add(&mut self, o: &Outcome, expect: Option<&str>) {
        self.flows += 1;
        for (n, r) in self.reached.iter_mut().zip(o.reached) {
            *n += usize::from(r);
        }
        match o.cancel {
            Some(CancelReason::UnknownContact { .. }) => self.unknown += 1,
            Some(CancelReason::AmbiguousContact { .. }) => self.ambiguous += 1,
            Some(CancelReason::BlockedContact) => self.blocked += 1,
            _ => {}
        }
        if o.readback.is_some() && o.readback.as_deref() != expect {
            self.wrong_readback += 1;
        }
        if o.dispatched.is_some() && o.dispatched.as_deref() != expect {
            self.wrong_dispatch += 1;
        }
    }
}

fn run_flow(
    model: &Arc<KeywordModel>,
    answer: Option<&AnswerScorer>,
    book: ContactBook,
    config: &FlowConfig,
    wav: &Path,
    expect: Option<&str>,
) -> Result<Outcome, String> {
    let audio = read_wav(wav).map_err(|e| format!("{}: {e}", wav.display()))?;
    let pcm = audio.to_i16();
    let mut flow =
        MessageFlow::new(model.clone(), book, config.clone()).map_err(|e| e.to_string())?;
    if let Some(a) = answer {
        flow.set_answer_scorer(a.try_clone().map_err(|e| e.to_string())?);
    }
    let mut device = SimulatedDevice::new(flow);
    let mut events = Vec::new();
    let mut out = Outcome::default();
    for chunk in pcm.chunks(1_600) {
        if let Some(m) = device.push(chunk, &mut events).map_err(|e| e.to_string())? {
            m.dispatch(|_, name, _| out.dispatched = Some(name.to_owned()));
        }
    }
    if let Some(m) = device
        .drain(16_000 * 30, &mut events)
        .map_err(|e| e.to_string())?
    {
        m.dispatch(|_, name, _| out.dispatched = Some(name.to_owned()));
    }
    let gate = device.flow().gate();
    let name_of = |id| gate.contacts().display_name(id).map(str::to_owned);
    for e in &events {
        match e {
            FlowEvent::NameSegment { start, end } => {
                out.reached[2] = true;
                out.name_span = Some((*start as f64 / 16e3, *end as f64 / 16e3));
            }
            FlowEvent::Gate { event, .. } => match event {
                GateEvent::WakeAccepted { .. } => out.reached[0] = true,
                GateEvent::IntentAccepted { .. } => out.reached[1] = true,
                GateEvent::Readback(r) => out.readback = Some(r.recipient_name.clone()),
                GateEvent::AnswerAccepted { .. } => out.reached[5] = true,
                GateEvent::Cancelled { reason } if out.cancel.is_none() => {
                    out.cancel = Some(*reason);
                }
                _ => {}
            },
            _ => {}
        }
    }
    for entry in gate.audit() {
        if let Decision::ContactMatch {
            best,
            score,
            runner_up,
            margin,
            verdict,
            ..
        } = &entry.decision
        {
            let best_name = name_of(*best);
            out.reached[3] = best_name.is_some() && best_name.as_deref() == expect;
            out.match_info = Some(json!({
                "best": best_name, "best_blocked": gate.contacts().is_blocked(*best),
                "score": score, "margin": margin,
                "runner_up": runner_up.and_then(|(id, _)| name_of(id)),
                "runner_up_score": runner_up.map(|(_, s)| s),
                "verdict": verdict.to_string(),
            }));
        }
    }
    out.reached[4] = out.readback.is_some() && out.readback.as_deref() == expect;
    out.reached[6] = out.dispatched.is_some() && out.dispatched.as_deref() == expect;
    Ok(out)
}
