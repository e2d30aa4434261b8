//! How often the spoken recipient is matched to the right enrolled contact.
//!
//! ```text
//! cargo run --release --example contact_eval -- [--contacts N] [--enroll K] [--min-score S] [--min-margin M] [--json] DIR [WORD...]
//! ```
//!
//! `DIR/<word>/<speaker>_<anything>.wav` (the Speech Commands layout:
//! `<speaker>_nohash_<n>.wav`) stands in for users saying names: for each
//! speaker, `N` words (default 4) that the speaker recorded at least `K + 1`
//! times become that user's contacts, each enrolled from `K` recordings
//! (default 2), in the order the words are given (default: left stop down
//! right yes up off on: no two of them rhyme). Every other recording of an
//! enrolled word is then "said" as a recipient, and every recording of the
//! speaker's other words as an impostor name that is not enrolled.
//!
//! A match is accepted as the gate accepts it (score >= `contact_min_score`,
//! margin >= `contact_min_margin` of [`GateConfig::default`], or the values
//! of `--min-score` / `--min-margin`). Printed:
//! accepted share of enrolled names, correct share of the accepted, and the
//! share of impostor names accepted (each of those would reach the read-back
//! naming a wrong recipient).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wakeguard::contacts::ContactBook;
use wakeguard::features::{MfccConfig, MfccPlan};
use wakeguard::gate::GateConfig;
use wakeguard::intent::{FlowConfig, enroll_from_wavs, name_features};

/// How often the spoken recipient is matched to the right enrolled contact.
#[derive(Parser, Debug)]
#[command(name = "contact_eval")]
struct Cli {
    /// Contacts per user (at least 2)
    #[arg(long = "contacts", value_name = "N", default_value_t = 4)]
    per_speaker: usize,
    /// Enrollment recordings per contact (1 to 5)
    #[arg(long, value_name = "K", default_value_t = 2)]
    enroll: usize,
    /// Minimum match score [default: the gate's contact_min_score]
    #[arg(long, value_name = "S")]
    min_score: Option<f32>,
    /// Minimum margin over the runner-up [default: the gate's contact_min_margin]
    #[arg(long, value_name = "M")]
    min_margin: Option<f32>,
    /// One JSON object instead of the text summary
    #[arg(long)]
    json: bool,
    /// Speech Commands layout: DIR/<word>/<speaker>_<anything>.wav
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The words that stand in for names, in order [default: left stop down right yes up off on]
    #[arg(value_name = "WORD")]
    words: Vec<String>,
}

const DEFAULT_WORDS: [&str; 8] = ["left", "stop", "down", "right", "yes", "up", "off", "on"];

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("contact_eval: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        per_speaker,
        enroll,
        min_score,
        min_margin,
        json,
        dir,
        words,
    } = cli;
    if !(1..=5).contains(&enroll) || per_speaker < 2 {
        return Err("--enroll must be 1..=5 and --contacts >= 2".into());
    }
    let mut gate = GateConfig::default();
    if let Some(v) = min_score {
        gate.contact_min_score = v;
    }
    if let Some(v) = min_margin {
        gate.contact_min_margin = v;
    }
    let words: Vec<String> = if words.is_empty() {
        DEFAULT_WORDS.iter().map(|w| w.to_string()).collect()
    } else {
        words
    };

    // speaker -> word -> recordings
    let mut by_speaker: BTreeMap<String, BTreeMap<String, Vec<PathBuf>>> = BTreeMap::new();
    for word in &words {
        let wdir = dir.join(word);
        let entries = std::fs::read_dir(&wdir).map_err(|e| format!("{}: {e}", wdir.display()))?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !name.ends_with(".wav") {
                continue;
            }
            let speaker = name.split('_').next().unwrap_or_default().to_string();
            by_speaker
                .entry(speaker)
                .or_default()
                .entry(word.clone())
                .or_default()
                .push(path);
        }
    }

    let plan = Arc::new(MfccPlan::new(MfccConfig::wakeguard_v1()).map_err(|e| e.to_string())?);
    let rms = FlowConfig::default().speech_rms;
    let (mut users, mut said, mut accepted, mut correct, mut impostors, mut impostor_accepted) =
        (0, 0, 0, 0, 0, 0);
    for (_speaker, mut recs) in by_speaker {
        for v in recs.values_mut() {
            v.sort();
        }
        let chosen: Vec<&String> = words
            .iter()
            .filter(|w| recs.get(*w).is_some_and(|r| r.len() > enroll))
            .take(per_speaker)
            .collect();
        if chosen.len() < per_speaker {
            continue;
        }
        let mut book = ContactBook::new();
        let mut ids = BTreeMap::new();
        for w in &chosen {
            let id = enroll_from_wavs(&mut book, &plan, w, &recs[*w][..enroll], rms)
                .map_err(|e| e.to_string())?;
            ids.insert(id, (*w).clone());
        }
        users += 1;
        let mut judge = |path: &Path, truth: Option<&String>| -> Result<(), String> {
            let audio = wakeguard::audio::read_wav(path).map_err(|e| e.to_string())?;
            let Ok(feats) = name_features(&plan, &audio.to_i16(), rms) else {
                // No speech found: the gate never gets a name (fails closed).
                if truth.is_some() {
                    said += 1;
                } else {
                    impostors += 1;
                }
                return Ok(());
            };
            let m = book.match_spoken(&feats).map_err(|e| e.to_string())?;
            let ok = m.score >= gate.contact_min_score && m.margin >= gate.contact_min_margin;
            match truth {
                Some(t) => {
                    said += 1;
                    if ok {
                        accepted += 1;
                        if ids.get(&m.best) == Some(t) {
                            correct += 1;
                        }
                    }
                }
                None => {
                    impostors += 1;
                    if ok {
                        impostor_accepted += 1;
                    }
                }
            }
            Ok(())
        };
        for (w, paths) in &recs {
            let enrolled = chosen.contains(&w);
            let tests = if enrolled {
                &paths[enroll..]
            } else {
                &paths[..]
            };
            for p in tests {
                judge(p, enrolled.then_some(w))?;
            }
        }
    }
    if users == 0 {
        return Err(format!(
            "no speaker in {} recorded {per_speaker} of the words more than {enroll} times",
            dir.display()
        ));
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    if json {
        println!(
            "{{\"users\": {users}, \"contacts_per_user\": {per_speaker}, \"enrollments\": {enroll}, \"names_said\": {said}, \"accepted\": {accepted}, \"correct\": {correct}, \"impostors\": {impostors}, \"impostors_accepted\": {impostor_accepted}}}"
        );
    } else {
        println!(
            "{users} users x {per_speaker} contacts ({enroll} enrollments each): \
             {said} names said, {:.1} % accepted, {:.1} % of the accepted correct ({correct}/{accepted}); \
             {impostors} names not enrolled, {:.1} % accepted ({impostor_accepted})",
            pct(accepted, said),
            pct(correct, accepted),
            pct(impostor_accepted, impostors)
        );
    }
    Ok(())
}
