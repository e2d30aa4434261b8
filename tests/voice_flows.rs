//! The voice check in whole requests (issue 18): with
//! `GateConfig::voice_check` on, a "yes" spoken by another recorded voice
//! than the request's cancels the request with `VoiceMismatch`; with it off
//! (the default) the same recording is dispatched, and the flow's events
//! are those of a flow without the check.
//!
//! The recordings are the bundled text-to-speech requests of
//! `testdata/flows/` (espeak-ng male "m", espeak-ng female "f", flite "k").
//! The mixed recording is built here: the request of one voice up to its
//! answer, then the answer of another voice's "yes" recording. (flite's
//! own "yes" is unclear to the answer scorer, so "k" is not used here.)

use wakeguard::audio::read_wav;
use wakeguard::gate::{CancelReason, GateStateKind, VoiceCheck, VoiceMatch};
use wakeguard::intent::{FlowConfig, FlowEvent, SimulatedDevice};
use wakeguard::voice::DEFAULT_MIN_SIMILARITY;

mod flow_device;
use flow_device::{flow_with, flows_dir};

struct Outcome {
    events: Vec<FlowEvent>,
    dispatched: Vec<String>,
}

impl Outcome {
    fn answer(&self) -> (u64, u64, VoiceMatch) {
        let found: Vec<_> = self
            .events
            .iter()
            .filter_map(|e| match e {
                FlowEvent::Answer {
                    start, end, voice, ..
                } => Some((*start, *end, *voice)),
                _ => None,
            })
            .collect();
        assert_eq!(found.len(), 1, "one answer per request");
        found[0]
    }

    fn cancels(&self) -> Vec<CancelReason> {
        flow_device::cancel_reasons(&self.events)
    }
}

fn config(check: VoiceCheck) -> FlowConfig {
    let mut c = FlowConfig::default();
    c.gate.voice_check = check;
    c
}

fn on() -> VoiceCheck {
    VoiceCheck::Required {
        min_similarity: DEFAULT_MIN_SIMILARITY,
    }
}

fn recording(voice: &str) -> Vec<i16> {
    read_wav(flows_dir(voice).join("yes.wav")).unwrap().to_i16()
}

/// Plays `pcm` through a flow with `voice`'s contacts and `check`.
fn play(voice: &str, pcm: &[i16], check: VoiceCheck) -> Outcome {
    let mut dev = SimulatedDevice::new(flow_with(voice, config(check)));
    let mut events = Vec::new();
    let mut dispatched = Vec::new();
    let mut take = |m: Option<wakeguard::gate::ConfirmedMessage>| {
        if let Some(m) = m {
            m.dispatch(|_, name, _| dispatched.push(name.to_string()));
        }
    };
    for part in pcm.chunks(1_600) {
        take(dev.push(part, &mut events).unwrap());
    }
    take(dev.drain(16_000 * 30, &mut events).unwrap());
    assert_eq!(dev.flow().gate().state(), GateStateKind::Idle);
    assert_eq!(dev.flow().gate().buffered_audio_samples(), 0);
    Outcome { events, dispatched }
}

/// `request`'s recording up to 0.3 s before its answer, then `answer`'s
/// recording from 0.3 s before its answer on.
fn mixed(request: &str, answer: &str) -> Vec<i16> {
    let cut = |voice: &str| {
        let (start, _, _) = play(voice, &recording(voice), VoiceCheck::Off).answer();
        start.saturating_sub(4_800) as usize
    };
    let (a, b) = (cut(request), cut(answer));
    let mut pcm = recording(request)[..a].to_vec();
    pcm.extend_from_slice(&recording(answer)[b..]);
    pcm
}

/// Events without the answer's voice field (which only the check fills in).
fn without_voice(events: &[FlowEvent]) -> Vec<FlowEvent> {
    events
        .iter()
        .cloned()
        .map(|e| match e {
            FlowEvent::Answer {
                yes,
                no,
                cancel,
                start,
                end,
                scoring,
                ..
            } => FlowEvent::Answer {
                yes,
                no,
                cancel,
                voice: VoiceMatch::NotMeasured,
                start,
                end,
                scoring,
            },
            other => other,
        })
        .collect()
}

#[test]
fn another_voice_saying_yes_is_cancelled_with_the_check_on() {
    // Only one direction passes the default threshold: f's request against
    // m's "yes" measures 0.254, above it, and is sent (README, "Who is
    // answering": about one other voice in five passes; the check is off by
    // default for that reason).
    let (request, answer) = ("m", "f");
    let pcm = mixed(request, answer);
    let off = play(request, &pcm, VoiceCheck::Off);
    assert_eq!(off.answer().2, VoiceMatch::NotMeasured);
    assert_eq!(
        off.dispatched,
        ["Alice"],
        "{request}+{answer}: with the check off the mixed request is sent"
    );

    let checked = play(request, &pcm, on());
    let VoiceMatch::Similarity(similarity) = checked.answer().2 else {
        panic!("{request}+{answer}: the voice was not measured");
    };
    println!("request {request}, answer {answer}: similarity {similarity:.3}");
    assert!(checked.dispatched.is_empty(), "{request}+{answer}: sent");
    assert!(
        matches!(
            checked.cancels().as_slice(),
            [CancelReason::VoiceMismatch { similarity: s, min_similarity }]
                if (*s - similarity).abs() < 1e-6
                    && (*min_similarity - DEFAULT_MIN_SIMILARITY).abs() < 1e-6
        ),
        "{request}+{answer}: {:?}",
        checked.cancels()
    );
    // The audit log names the voice and the check in force.
    let audit = play_audit(request, &pcm);
    assert!(
        audit.iter().any(|l| l.contains("voice similarity")
            && l.contains(&format!("need >= {DEFAULT_MIN_SIMILARITY:.3}"))),
        "{audit:?}"
    );
}

fn play_audit(voice: &str, pcm: &[i16]) -> Vec<String> {
    let mut dev = SimulatedDevice::new(flow_with(voice, config(on())));
    let mut events = Vec::new();
    for part in pcm.chunks(1_600) {
        dev.push(part, &mut events).unwrap();
    }
    dev.drain(16_000 * 30, &mut events).unwrap();
    dev.flow()
        .gate()
        .audit()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn own_voice_saying_yes_is_sent_with_the_check_on() {
    for voice in ["m", "f"] {
        let out = play(voice, &recording(voice), on());
        let VoiceMatch::Similarity(similarity) = out.answer().2 else {
            panic!("{voice}: the voice was not measured");
        };
        println!("voice {voice}: own similarity {similarity:.3}");
        assert!(similarity >= DEFAULT_MIN_SIMILARITY);
        assert_eq!(out.dispatched, ["Alice"], "{voice}: {:?}", out.cancels());
    }
}

#[test]
fn with_the_check_off_the_flow_is_unchanged() {
    for voice in ["m", "f", "k"] {
        let pcm = recording(voice);
        let off = play(voice, &pcm, VoiceCheck::Off);
        let mut default = SimulatedDevice::new(flow_device::flow(voice));
        let mut events = Vec::new();
        for part in pcm.chunks(1_600) {
            let _ = default.push(part, &mut events).unwrap();
        }
        let _ = default.drain(16_000 * 30, &mut events).unwrap();
        assert_eq!(off.events, events, "{voice}");
        // With the check on only the answer's voice field and what it decides differ.
        let checked = play(voice, &pcm, on());
        if checked.dispatched == off.dispatched {
            assert_eq!(without_voice(&checked.events), off.events, "{voice}");
        }
    }
}
