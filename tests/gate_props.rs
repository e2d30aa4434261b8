//! Property tests: long random input sequences (with invalid scores, time
//! jumps in both directions and contact-book changes between steps) checked
//! against an independent reference model of what a valid confirmed flow is.
//! Half of the cases run with the voice check on (issue 18), at a random
//! threshold, and every answer carries a random voice measurement.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRng, TestRunner};

use wakeguard::audit::Decision;
mod common;

use common::{name_seq, toy_book};
use wakeguard::contacts::{ContactError, ContactId, FeatureSeq};
use wakeguard::gate::{
    CancelReason, Gate, GateConfig, GateEvent, GateStateKind, Input, Readback, VoiceCheck,
    VoiceMatch, seconds,
};

/// Name templates 0..POOL may be enrolled; template POOL never is.
const POOL: usize = 7;

// ---------------------------------------------------------------- inputs --

fn pool_name(k: usize) -> String {
    ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace"][k].to_owned()
}

fn enrollments(k: usize, n: usize) -> Vec<FeatureSeq> {
    (0..n)
        .map(|i| name_seq(k, 0.9 + 0.1 * i as f32, (k * 10 + i) as u64, 0.03))
        .collect()
}

fn audio_chunk(speech: bool, len: usize, seed: u64) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let j = (seed as usize % 10_000) + i;
            if speech {
                (3000.0 * (j as f32 * 0.07).sin()) as i16
            } else {
                (j % 41) as i16 - 20
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The input that fits the gate's current state (scores still random).
    Proper,
    Wake,
    Intent,
    Name,
    Audio,
    ReadbackFinished,
    Answer,
    Tick,
    Cancel,
    Add,
    Remove,
    Block,
    Unblock,
}

#[derive(Debug, Clone, Copy)]
enum Gap {
    Forward(u64),
    Backward(u64),
}

#[derive(Debug, Clone)]
struct Op {
    kind: Kind,
    gap: Gap,
    scores: [f32; 3],
    k: usize,
    stretch: f32,
    seed: u64,
    speech: bool,
    chunk: usize,
    /// How long before `at` the answer began; `u64::MAX` = after `at`.
    start_offset: u64,
    idx: usize,
    /// The answer's voice against the request's.
    voice: VoiceMatch,
}

#[derive(Debug, Clone)]
struct Case {
    /// Per pool entry: (enrolled, blocked, number of enrollments).
    initial: Vec<(bool, bool, usize)>,
    ops: Vec<Op>,
    /// The gate's voice check.
    voice_check: VoiceCheck,
}

fn invalid_score() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        -2.0f32..-0.0001,
        1.0001f32..3.0,
    ]
}

fn high_score() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => 0.8f32..=1.0,
        3 => 0.0f32..=1.0,
        1 => invalid_score(),
    ]
}

fn low_score() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => 0.0f32..=0.3,
        3 => 0.0f32..=1.0,
        1 => invalid_score(),
    ]
}

fn kind(focused: bool) -> BoxedStrategy<Kind> {
    // A focused case mostly plays along with the gate, so that complete
    // flows (and late-stage cancellations) are common; the others are noisier.
    let proper = if focused { 120 } else { 30 };
    prop_oneof![
        proper => Just(Kind::Proper),
        2 => Just(Kind::Wake),
        2 => Just(Kind::Intent),
        2 => Just(Kind::Name),
        3 => Just(Kind::Audio),
        2 => Just(Kind::ReadbackFinished),
        2 => Just(Kind::Answer),
        3 => Just(Kind::Tick),
        1 => Just(Kind::Cancel),
        1 => Just(Kind::Add),
        1 => Just(Kind::Remove),
        1 => Just(Kind::Block),
        1 => Just(Kind::Unblock),
    ]
    .boxed()
}

fn gap() -> impl Strategy<Value = Gap> {
    prop_oneof![
        16 => (0u64..3_200).prop_map(Gap::Forward),
        3 => (3_200u64..seconds(8.0)).prop_map(Gap::Forward),
        1 => (1u64..5_000).prop_map(Gap::Backward),
    ]
}

fn start_offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => Just(0u64),
        2 => 0u64..seconds(1.5),
        1 => Just(u64::MAX),
    ]
}

/// Mostly a similar voice (so that requests still get through), then any
/// similarity around any threshold, some unmeasured, a few invalid.
fn voice_match() -> impl Strategy<Value = VoiceMatch> {
    prop_oneof![
        24 => (0.8f32..=1.0).prop_map(VoiceMatch::Similarity),
        8 => (-1.0f32..=1.0).prop_map(VoiceMatch::Similarity),
        5 => Just(VoiceMatch::NotMeasured),
        1 => prop_oneof![
            Just(f32::NAN),
            Just(f32::INFINITY),
            -3.0f32..-1.0001,
            1.0001f32..3.0,
        ]
        .prop_map(VoiceMatch::Similarity),
    ]
}

fn voice_check() -> impl Strategy<Value = VoiceCheck> {
    prop_oneof![
        Just(VoiceCheck::Off),
        (-0.5f32..0.8).prop_map(|min_similarity| VoiceCheck::Required { min_similarity }),
    ]
}

fn valid_voice(v: VoiceMatch) -> bool {
    match v {
        VoiceMatch::NotMeasured => true,
        VoiceMatch::Similarity(s) => s.is_finite() && (-1.0..=1.0).contains(&s),
    }
}

fn op(focused: bool) -> impl Strategy<Value = Op> {
    (
        (
            kind(focused),
            gap(),
            high_score(),
            low_score(),
            low_score(),
            0usize..=POOL,
            0.8f32..1.25,
            any::<u64>(),
            prop::bool::weighted(0.5),
            400usize..4_800,
            start_offset(),
            any::<usize>(),
        ),
        voice_match(),
    )
        .prop_map(
            |(
                (kind, gap, s0, s1, s2, k, stretch, seed, speech, chunk, start_offset, idx),
                voice,
            )| Op {
                kind,
                gap,
                scores: [s0, s1, s2],
                k,
                stretch,
                seed,
                speech,
                chunk,
                start_offset,
                idx,
                voice,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    any::<bool>().prop_flat_map(|focused| {
        (
            prop::collection::vec(
                (
                    prop::bool::weighted(0.6),
                    prop::bool::weighted(0.15),
                    1usize..=3,
                ),
                POOL,
            ),
            prop::collection::vec(op(focused), 20..=200),
            voice_check(),
        )
            .prop_map(|(initial, ops, voice_check)| Case {
                initial,
                ops,
                voice_check,
            })
    })
}

// ------------------------------------------------------ reference model --

fn valid(s: f32) -> bool {
    s.is_finite() && (0.0..=1.0).contains(&s)
}

#[derive(Debug, Clone)]
struct ModelContact {
    k: usize,
    blocked: bool,
}

/// What the test itself knows about the contact book, from its own calls.
#[derive(Debug, Default)]
struct ModelBook {
    contacts: BTreeMap<ContactId, ModelContact>,
    ever: BTreeSet<ContactId>,
}

impl ModelBook {
    fn usable(&self, id: ContactId) -> bool {
        self.contacts.get(&id).is_some_and(|c| !c.blocked)
    }

    fn pick(&self, idx: usize) -> ContactId {
        if idx.is_multiple_of(5) || self.contacts.is_empty() {
            // Never enrolled (ids start at 1) or possibly removed.
            return if idx.is_multiple_of(2) {
                ContactId(0)
            } else {
                ContactId(1 + (idx % 20) as u32)
            };
        }
        *self.contacts.keys().nth(idx % self.contacts.len()).unwrap()
    }
}

/// One request as seen from outside: from `WakeAccepted` to the end.
#[derive(Debug, Default)]
struct Request {
    recipient: Option<ContactId>,
    recording: bool,
    /// Audio fed while the model believes recording may be going on.
    fed: Vec<i16>,
    /// Read-back event: (step index, time, content).
    readback: Option<(usize, u64, Readback)>,
    /// Time of the first `ReadbackFinished` input after the read-back.
    readback_finished_at: Option<u64>,
    /// Answer inputs since the read-back event.
    answers_since_readback: u32,
}

#[derive(Debug, Default)]
struct Stats {
    steps: usize,
    dispatches: usize,
    /// Dispatches with the voice check on.
    dispatches_voice_checked: usize,
    rejections: usize,
    readbacks: usize,
    cancels: BTreeMap<String, usize>,
}

fn reason_name(r: &CancelReason) -> String {
    let s = format!("{r:?}");
    s.split([' ', '{']).next().unwrap_or_default().to_owned()
}

#[allow(clippy::too_many_lines)]
fn run_case(case: &Case, stats: &mut Stats) -> Result<(), TestCaseError> {
    // The toy names are smooth sinusoids, much closer to each other than
    // real spoken names: match them with a scale fitted to them, whole
    // segments, and the matching minimum score (the defaults are calibrated
    // on real MFCC features).
    let config = GateConfig {
        contact_min_score: 0.6,
        contact_min_margin: 0.15,
        voice_check: case.voice_check,
        ..GateConfig::default()
    };
    let mut book = toy_book();
    let mut model = ModelBook::default();
    for (k, &(enrolled, blocked, n)) in case.initial.iter().enumerate() {
        if enrolled {
            let id = book.add(&pool_name(k), enrollments(k, n)).unwrap();
            if blocked {
                book.block(id).unwrap();
            }
            model.contacts.insert(id, ModelContact { k, blocked });
            model.ever.insert(id);
        }
    }
    let mut gate = Gate::new(config, book).unwrap();
    let mut last_at = 0u64; // latest accepted input time
    let mut base = 0u64; // earliest time for the next input (after audio)
    let mut request: Option<Request> = None;

    for (step_idx, op) in case.ops.iter().enumerate() {
        stats.steps += 1;
        let at = match op.gap {
            Gap::Forward(g) => base.saturating_add(g),
            Gap::Backward(b) => last_at.saturating_sub(b),
        };

        // Contact-book changes between steps.
        let book_op = match op.kind {
            Kind::Add => {
                let k = op.k % POOL;
                let exists = model.contacts.values().any(|c| c.k == k);
                let result = gate
                    .contacts_mut()
                    .add(&pool_name(k), enrollments(k, 1 + op.idx % 3));
                match result {
                    Ok(id) => {
                        prop_assert!(!exists, "duplicate name accepted");
                        prop_assert!(!model.ever.contains(&id), "id {id} reused");
                        model
                            .contacts
                            .insert(id, ModelContact { k, blocked: false });
                        model.ever.insert(id);
                    }
                    Err(e) => {
                        prop_assert!(exists, "add failed: {e}");
                        prop_assert_eq!(e, ContactError::DuplicateName);
                    }
                }
                true
            }
            Kind::Remove | Kind::Block | Kind::Unblock => {
                let id = model.pick(op.idx);
                let known = model.contacts.contains_key(&id);
                let book = gate.contacts_mut();
                let result = match op.kind {
                    Kind::Remove => book.remove(id),
                    Kind::Block => book.block(id),
                    _ => book.unblock(id),
                };
                prop_assert_eq!(result.is_ok(), known, "{:?} {}", op.kind, id);
                if known {
                    match op.kind {
                        Kind::Remove => {
                            model.contacts.remove(&id);
                        }
                        Kind::Block => model.contacts.get_mut(&id).unwrap().blocked = true,
                        _ => model.contacts.get_mut(&id).unwrap().blocked = false,
                    }
                }
                true
            }
            _ => false,
        };
        if book_op {
            for (id, c) in &model.contacts {
                prop_assert!(gate.contacts().is_enrolled(*id));
                prop_assert_eq!(gate.contacts().is_blocked(*id), c.blocked);
            }
            prop_assert_eq!(gate.contacts().len(), model.contacts.len());
            continue;
        }

        // Build the input.
        let state_before = gate.state();
        let kind = if op.kind == Kind::Proper {
            match state_before {
                GateStateKind::Idle => Kind::Wake,
                GateStateKind::AwaitingIntent => Kind::Intent,
                GateStateKind::AwaitingName => Kind::Name,
                GateStateKind::Recording => Kind::Audio,
                GateStateKind::AwaitingReadback => Kind::ReadbackFinished,
                GateStateKind::AwaitingAnswer => Kind::Answer,
            }
        } else {
            op.kind
        };
        let chunk = audio_chunk(op.speech, op.chunk, op.seed);
        let started_at = if op.start_offset == u64::MAX {
            at.saturating_add(1)
        } else {
            at.saturating_sub(op.start_offset)
        };
        // A played-along name is usually one that is currently in the book
        // (blocked or not); otherwise any template, including the never
        // enrolled one.
        let name_k = if op.kind == Kind::Proper && op.idx % 4 != 0 && !model.contacts.is_empty() {
            let ks: Vec<usize> = model.contacts.values().map(|c| c.k).collect();
            ks[op.idx % ks.len()]
        } else {
            op.k
        };
        let [s0, s1, s2] = op.scores;
        // s0 is drawn high, s1 and s2 low: rotate so that every answer gets
        // its turn at being the likely one.
        let (yes, no, cancel) = match op.idx % 4 {
            0 | 1 => (s0, s1, s2),
            2 => (s1, s0, s2),
            _ => (s1, s2, s0),
        };
        let input = match kind {
            Kind::Wake => Input::Wake { score: s0, at },
            Kind::Intent => Input::Intent { score: s0, at },
            Kind::Name => Input::Name {
                spoken: name_seq(name_k, op.stretch, op.seed, 0.05),
                at,
            },
            Kind::Audio => Input::Audio {
                samples: &chunk,
                at,
            },
            Kind::ReadbackFinished => Input::ReadbackFinished { at },
            Kind::Answer => Input::Answer {
                yes,
                no,
                cancel,
                voice: op.voice,
                started_at,
                at,
            },
            Kind::Tick => Input::Tick { at },
            Kind::Cancel => Input::Cancel { at },
            _ => unreachable!(),
        };
        // Independent prediction of rejection.
        let expect_reject = at < last_at
            || match kind {
                Kind::Wake | Kind::Intent => !valid(s0),
                Kind::Answer => {
                    !(valid(yes) && valid(no) && valid(cancel) && valid_voice(op.voice))
                        || started_at > at
                }
                _ => false,
            };

        let buffered_before = gate.buffered_audio_samples() as u64;
        let wiped_before = gate.wiped_samples_total();
        let result = gate.handle(input);
        let audit = gate.drain_audit();
        let rejected = result.is_err();
        let (events, dispatch) = match result {
            Ok(mut step) => (std::mem::take(&mut step.events), step.dispatch.take()),
            Err(r) => (r.events, None),
        };
        let buffered_after = gate.buffered_audio_samples() as u64;
        let wiped_delta = gate.wiped_samples_total() - wiped_before;
        prop_assert_eq!(rejected, expect_reject, "step {} {:?}", step_idx, kind);

        // Audit mirrors events: cancellations, read-backs, dispatches.
        let cancel_events: Vec<CancelReason> = events
            .iter()
            .filter_map(|e| match e {
                GateEvent::Cancelled { reason } => Some(*reason),
                _ => None,
            })
            .collect();
        let audit_cancels: Vec<(CancelReason, u64)> = audit
            .iter()
            .filter_map(|e| match e.decision {
                Decision::Cancelled {
                    reason,
                    wiped_samples,
                } => Some((reason, wiped_samples)),
                _ => None,
            })
            .collect();
        prop_assert_eq!(
            audit_cancels.iter().map(|c| c.0).collect::<Vec<_>>(),
            cancel_events.clone()
        );
        prop_assert_eq!(audit_cancels.iter().map(|c| c.1).sum::<u64>(), wiped_delta);
        let audit_dispatches: Vec<(ContactId, u64)> = audit
            .iter()
            .filter_map(|e| match e.decision {
                Decision::Dispatched {
                    contact,
                    duration_samples,
                } => Some((contact, duration_samples)),
                _ => None,
            })
            .collect();
        prop_assert_eq!(
            audit_dispatches.len(),
            usize::from(dispatch.is_some()),
            "audit dispatch count"
        );
        for entry in &audit {
            prop_assert!(entry.at <= at.max(last_at));
            prop_assert!(!entry.to_string().contains('\n'));
        }

        // (4) Audio accounting: nothing leaves the buffer unless wiped or
        // dispatched; only an audio input can add to it; a cancel empties it.
        let dispatched_len = dispatch.as_ref().map_or(0, |m| m.duration_samples());
        let appended =
            (buffered_after + wiped_delta + dispatched_len) as i128 - buffered_before as i128;
        let fed_len = if kind == Kind::Audio && !rejected {
            chunk.len() as i128
        } else {
            0
        };
        prop_assert!(
            (0..=fed_len).contains(&appended),
            "step {}: audio appeared or vanished: before {} after {} wiped {} dispatched {}",
            step_idx,
            buffered_before,
            buffered_after,
            wiped_delta,
            dispatched_len
        );
        if cancel_events.is_empty() {
            prop_assert_eq!(wiped_delta, 0, "wipe without a cancel");
        } else {
            prop_assert_eq!(buffered_after, 0, "audio kept after a cancel");
            prop_assert!(dispatch.is_none());
            prop_assert!(wiped_delta >= buffered_before);
            prop_assert_eq!(wiped_delta as i128, buffered_before as i128 + appended);
            if fed_len == 0 {
                prop_assert_eq!(wiped_delta, buffered_before);
            }
        }
        prop_assert!(buffered_after <= config.max_recording);
        if buffered_after > 0 {
            prop_assert!(matches!(
                gate.state(),
                GateStateKind::Recording
                    | GateStateKind::AwaitingReadback
                    | GateStateKind::AwaitingAnswer
            ));
        }

        // Reference model of the request.
        if rejected {
            stats.rejections += 1;
            prop_assert_eq!(gate.state(), GateStateKind::Idle);
            prop_assert_eq!(buffered_after, 0);
            if request.is_some() {
                prop_assert_eq!(cancel_events.clone(), vec![CancelReason::InvalidInput]);
                *stats.cancels.entry("InvalidInput".to_owned()).or_default() += 1;
            } else {
                prop_assert!(events.is_empty());
            }
            request = None;
        } else {
            // (1)-(3): a dispatch must be the end of a valid confirmed flow.
            if let Some(message) = &dispatch {
                stats.dispatches += 1;
                if case.voice_check != VoiceCheck::Off {
                    stats.dispatches_voice_checked += 1;
                }
                let req = request.as_ref();
                // (3) A request closes at its dispatch, so a second dispatch
                // without a new accepted wake fails here.
                prop_assert!(req.is_some(), "dispatch without an open request");
                let req = req.unwrap();
                let Some((rb_step, rb_at, rb)) = req.readback.clone() else {
                    return Err(TestCaseError::fail("dispatch without a read-back"));
                };
                prop_assert!(rb_step < step_idx);
                let Some(rf) = req.readback_finished_at else {
                    return Err(TestCaseError::fail(
                        "dispatch without ReadbackFinished after the read-back",
                    ));
                };
                prop_assert!(rf > rb_at);
                prop_assert_eq!(req.answers_since_readback, 0, "not the first answer");
                prop_assert_eq!(kind, Kind::Answer, "dispatch on a non-answer input");
                prop_assert!(valid(yes) && valid(no) && valid(cancel));
                prop_assert!(yes >= config.confirm_threshold, "yes {}", yes);
                prop_assert!(
                    f64::from(yes) - f64::from(no.max(cancel))
                        >= f64::from(config.confirm_margin) - 1e-6,
                    "margin yes {} no {} cancel {}",
                    yes,
                    no,
                    cancel
                );
                prop_assert!(
                    started_at >= rf,
                    "answer began before the read-back finished"
                );
                prop_assert!(at <= rf + config.confirm_window, "answer too late");
                // With the voice check on, only a measured voice at or above
                // the threshold confirms.
                if let VoiceCheck::Required { min_similarity } = case.voice_check {
                    prop_assert!(
                        matches!(op.voice, VoiceMatch::Similarity(s) if s >= min_similarity),
                        "voice {:?} confirmed with the check at {}",
                        op.voice,
                        min_similarity
                    );
                }
                // (2) recipient valid right now, and the one read back.
                let to = message.recipient();
                prop_assert!(model.ever.contains(&to), "never enrolled: {}", to);
                prop_assert!(model.usable(to), "removed or blocked: {}", to);
                prop_assert_eq!(Some(to), req.recipient);
                prop_assert_eq!(to, rb.contact);
                let expected_name = pool_name(model.contacts[&to].k);
                prop_assert_eq!(message.recipient_name(), expected_name.as_str());
                prop_assert_eq!(message.duration_samples(), rb.duration_samples);
                prop_assert_eq!(audit_dispatches[0], (to, rb.duration_samples));
                prop_assert!(rb.duration_samples <= config.max_recording);
                prop_assert!(rb.duration_samples >= config.min_recording);
                let accepted = events
                    .iter()
                    .any(|e| matches!(e, GateEvent::AnswerAccepted { .. }));
                prop_assert!(accepted, "dispatch without AnswerAccepted");
            }
            if let Some(message) = dispatch {
                // The audio is exactly what was fed during this recording.
                let fed = request.as_ref().map(|r| r.fed.clone()).unwrap_or_default();
                let audio = message.into_audio();
                prop_assert!(audio.len() <= fed.len());
                prop_assert!(audio[..] == fed[..audio.len()], "foreign audio dispatched");
                request = None;
                prop_assert_eq!(gate.state(), GateStateKind::Idle);
            }

            // Input-side bookkeeping (before events: the read-back of this
            // very step does not count yet).
            if let Some(req) = request.as_mut() {
                match kind {
                    Kind::Answer if req.readback.is_some() => req.answers_since_readback += 1,
                    Kind::ReadbackFinished => {
                        let counts = req.readback.as_ref().is_some_and(|(rb_step, rb_at, _)| {
                            *rb_step < step_idx
                                && at > *rb_at
                                && req.readback_finished_at.is_none()
                                && req.answers_since_readback == 0
                        });
                        if counts {
                            req.readback_finished_at = Some(at);
                        }
                    }
                    Kind::Audio if req.recording && req.readback.is_none() => {
                        req.fed.extend_from_slice(&chunk);
                    }
                    _ => {}
                }
            }
            if kind == Kind::Cancel && request.is_some() {
                prop_assert!(!cancel_events.is_empty(), "cancel input ignored");
            }
            // Event-side bookkeeping.
            for event in &events {
                match event {
                    GateEvent::WakeAccepted { score } => {
                        prop_assert!(request.is_none(), "wake accepted mid-request");
                        prop_assert!(*score >= config.wake_threshold);
                        request = Some(Request::default());
                    }
                    GateEvent::Cancelled { reason } => {
                        prop_assert!(request.is_some(), "cancel without request");
                        if matches!(
                            reason,
                            CancelReason::VoiceMismatch { .. } | CancelReason::VoiceNotMeasured
                        ) {
                            // Only with the check on, only on a clear yes.
                            prop_assert!(case.voice_check != VoiceCheck::Off);
                            prop_assert_eq!(kind, Kind::Answer);
                            prop_assert!(yes >= config.confirm_threshold);
                        }
                        if let CancelReason::VoiceMismatch {
                            similarity,
                            min_similarity,
                        } = reason
                        {
                            prop_assert!(similarity < min_similarity);
                            prop_assert_eq!(op.voice, VoiceMatch::Similarity(*similarity));
                        }
                        *stats.cancels.entry(reason_name(reason)).or_default() += 1;
                        request = None;
                    }
                    GateEvent::ContactMatched { contact, .. } => {
                        let req = request.as_mut().expect("match without request");
                        prop_assert!(model.usable(*contact));
                        req.recipient = Some(*contact);
                    }
                    GateEvent::RecordingStarted => {
                        let req = request.as_mut().expect("recording without request");
                        prop_assert!(req.recipient.is_some());
                        req.recording = true;
                        req.fed.clear();
                    }
                    GateEvent::Readback(rb) => {
                        stats.readbacks += 1;
                        let req = request.as_mut().expect("read-back without request");
                        prop_assert!(req.readback.is_none());
                        prop_assert_eq!(Some(rb.contact), req.recipient);
                        req.readback = Some((step_idx, at, rb.clone()));
                    }
                    GateEvent::AnswerAccepted { .. } => {
                        // `request` was closed by the dispatch check above.
                    }
                    _ => {}
                }
            }
            last_at = at;
            base = if kind == Kind::Audio {
                at.saturating_add(chunk.len() as u64)
            } else {
                at
            };
        }
        prop_assert_eq!(
            gate.state() == GateStateKind::Idle,
            request.is_none(),
            "model and gate disagree on whether a request is open (step {})",
            step_idx
        );
    }
    Ok(())
}

fn config(seed: u64) -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(0x5EED_0001))]

    #[test]
    fn gate_never_dispatches_outside_a_valid_confirmed_flow(case in case()) {
        let mut stats = Stats::default();
        run_case(&case, &mut stats)?;
    }
}

/// Same properties over another deterministic batch, also checking that the
/// generator really reaches dispatches and many kinds of cancellation (so
/// the properties above are not vacuous).
#[test]
fn generated_runs_cover_dispatches_and_cancellations() {
    let seed = 0x5EED_0004u64;
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 384,
            ..config(seed)
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let stats = std::cell::RefCell::new(Stats::default());
    runner
        .run(&case(), |case| run_case(&case, &mut stats.borrow_mut()))
        .unwrap();
    let stats = stats.into_inner();
    println!("{stats:#?}");
    assert!(stats.dispatches >= 20, "{stats:?}");
    assert!(stats.dispatches_voice_checked >= 5, "{stats:?}");
    assert!(stats.readbacks > stats.dispatches, "{stats:?}");
    assert!(stats.rejections >= 100, "{stats:?}");
    for reason in [
        "IntentTimeout",
        "IntentBelowThreshold",
        "NameTimeout",
        "UnknownContact",
        "BlockedContact",
        "ContactRemoved",
        "NoSpeech",
        "RecordingTooShort",
        "AnswerBeforeReadback",
        "ConfirmTimeout",
        "ReadbackTimeout",
        "AnsweredNo",
        "AnsweredCancel",
        "AnswerUnclear",
        "UserCancelled",
        "InvalidInput",
        "VoiceMismatch",
        "VoiceNotMeasured",
    ] {
        assert!(
            stats.cancels.get(reason).copied().unwrap_or(0) > 0,
            "{reason} never happened: {stats:?}"
        );
    }
}
