//! Scripted flows through the confirmation gate.

use wakeguard::audit::{AnswerVerdict, Decision, MatchVerdict};
mod common;

use common::{DIM, name_seq, toy_book};
use wakeguard::contacts::{ContactBook, ContactError, ContactId, FeatureSeq};
use wakeguard::gate::{
    CancelReason, Gate, GateConfig, GateConfigError, GateEvent, GateStateKind, Input, InputError,
    Readback, Step, VoiceCheck, VoiceMatch, seconds,
};

const CHUNK: usize = 1600; // 0.1 s

fn enrollments(k: usize) -> Vec<FeatureSeq> {
    vec![
        name_seq(k, 1.0, 100 + k as u64, 0.03),
        name_seq(k, 1.1, 200 + k as u64, 0.03),
    ]
}

fn spoken(k: usize) -> FeatureSeq {
    name_seq(k, 0.95, 7_000 + k as u64, 0.05)
}

const ALICE: usize = 0;
const BOB: usize = 3;
const CAROL: usize = 5;

fn book() -> (ContactBook, ContactId, ContactId, ContactId) {
    let mut book = toy_book();
    let a = book.add("Alice", enrollments(ALICE)).unwrap();
    let b = book.add("Bob", enrollments(BOB)).unwrap();
    let c = book.add("Carol", enrollments(CAROL)).unwrap();
    (book, a, b, c)
}

/// Gate thresholds for the toy names: the default minimum name score is
/// calibrated on real features, where scores are lower.
fn toy_config() -> GateConfig {
    GateConfig {
        contact_min_score: 0.6,
        contact_min_margin: 0.15,
        ..GateConfig::default()
    }
}

fn gate() -> (Gate, ContactId, ContactId, ContactId) {
    let (book, a, b, c) = book();
    (Gate::new(toy_config(), book).unwrap(), a, b, c)
}

fn speech_chunk(offset: usize) -> Vec<i16> {
    (0..CHUNK)
        .map(|i| (3000.0 * ((offset + i) as f32 * 0.07).sin()) as i16)
        .collect()
}

fn silence_chunk() -> Vec<i16> {
    (0..CHUNK).map(|i| ((i % 7) as i16 - 3) * 10).collect()
}

fn ok(gate: &mut Gate, input: Input<'_>) -> Step {
    gate.handle(input).expect("input accepted")
}

/// Feeds an input whose outcome is not inspected; it must not dispatch.
fn feed(gate: &mut Gate, input: Input<'_>) {
    let step = ok(gate, input);
    assert!(step.dispatch.is_none());
}

fn cancel_reasons(events: &[GateEvent]) -> Vec<CancelReason> {
    events
        .iter()
        .filter_map(|e| match e {
            GateEvent::Cancelled { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// Drives wake, intent and name; returns the time after the name.
fn to_recording(gate: &mut Gate, k: usize) -> u64 {
    let s = ok(gate, Input::Wake { score: 0.9, at: 0 });
    assert_eq!(s.events, vec![GateEvent::WakeAccepted { score: 0.9 }]);
    let s = ok(
        gate,
        Input::Intent {
            score: 0.9,
            at: seconds(1.0),
        },
    );
    assert_eq!(s.events, vec![GateEvent::IntentAccepted { score: 0.9 }]);
    let s = ok(
        gate,
        Input::Name {
            spoken: spoken(k),
            at: seconds(2.0),
        },
    );
    assert!(
        matches!(s.events.last(), Some(GateEvent::RecordingStarted)),
        "{:?}",
        s.events
    );
    assert_eq!(gate.state(), GateStateKind::Recording);
    seconds(2.0)
}

/// Feeds `speech_chunks` of speech then silence until the recording ends.
/// Returns (all audio fed, readback, time after the last chunk).
fn record(gate: &mut Gate, start: u64, speech_chunks: usize) -> (Vec<i16>, Option<Readback>, u64) {
    let mut fed = Vec::new();
    let mut t = start;
    for i in 0..speech_chunks {
        let c = speech_chunk(i * CHUNK);
        let s = ok(gate, Input::Audio { samples: &c, at: t });
        assert!(s.events.is_empty(), "{:?}", s.events);
        fed.extend_from_slice(&c);
        t += CHUNK as u64;
    }
    for _ in 0..200 {
        let c = silence_chunk();
        let s = ok(gate, Input::Audio { samples: &c, at: t });
        fed.extend_from_slice(&c);
        t += CHUNK as u64;
        if !s.events.is_empty() {
            let readback = s.events.iter().find_map(|e| match e {
                GateEvent::Readback(r) => Some(r.clone()),
                _ => None,
            });
            return (fed, readback, t);
        }
    }
    panic!("recording never ended");
}

/// Runs a flow up to the answer window. Returns (fed audio, readback,
/// time the answer window opened).
fn to_answer(gate: &mut Gate, k: usize) -> (Vec<i16>, Readback, u64) {
    let t = to_recording(gate, k);
    let (fed, readback, t) = record(gate, t, 20);
    let readback = readback.expect("read-back issued");
    assert_eq!(gate.state(), GateStateKind::AwaitingReadback);
    let t = t + seconds(2.0);
    let s = ok(gate, Input::ReadbackFinished { at: t });
    assert_eq!(
        s.events,
        vec![GateEvent::AnswerWindowOpened {
            deadline: t + seconds(6.0)
        }]
    );
    assert_eq!(gate.state(), GateStateKind::AwaitingAnswer);
    (fed, readback, t)
}

fn answer(gate: &mut Gate, yes: f32, no: f32, cancel: f32, at: u64) -> Step {
    ok(
        gate,
        Input::Answer {
            yes,
            no,
            cancel,
            voice: VoiceMatch::NotMeasured,
            started_at: at,
            at: at + seconds(0.5),
        },
    )
}

fn assert_cancelled_and_wiped(gate: &Gate, step_events: &[GateEvent], reason: CancelReason) {
    assert_eq!(cancel_reasons(step_events), vec![reason]);
    assert_eq!(gate.state(), GateStateKind::Idle);
    assert_eq!(gate.buffered_audio_samples(), 0);
}

#[test]
fn complete_flow_dispatches_once_with_right_contact_and_audio() {
    let (mut gate, _alice, bob, _carol) = gate();
    let (fed, readback, t) = to_answer(&mut gate, BOB);
    // 2 s of speech + 1.2 s of trailing silence.
    assert_eq!(fed.len(), 51_200);
    assert_eq!(
        readback,
        Readback {
            contact: bob,
            recipient_name: "Bob".into(),
            duration_samples: 51_200,
            prompt: "Send a 3-second message to Bob?".into(),
        }
    );
    assert_eq!(gate.buffered_audio_samples(), 51_200);
    let mut step = answer(&mut gate, 0.93, 0.05, 0.02, t + seconds(1.0));
    assert!(matches!(
        step.events.as_slice(),
        [GateEvent::AnswerAccepted { yes, margin }] if *yes == 0.93 && (*margin - 0.88).abs() < 1e-6
    ));
    let message = step.dispatch.take().expect("dispatched");
    assert_eq!(message.recipient(), bob);
    assert_eq!(message.recipient_name(), "Bob");
    assert_eq!(message.duration_samples(), 51_200);
    let mut sent = Vec::new();
    let n = message.dispatch(|to, name, audio| {
        sent.push((to, name.to_owned(), audio.to_vec()));
        audio.len()
    });
    assert_eq!(n, 51_200);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, bob);
    assert_eq!(sent[0].2, fed);
    assert_eq!(gate.state(), GateStateKind::Idle);
    assert_eq!(gate.buffered_audio_samples(), 0);
    assert_eq!(gate.wiped_samples_total(), 0);
    // Repeating the answer or the read-back does nothing.
    let again = answer(&mut gate, 0.99, 0.0, 0.0, t + seconds(2.0));
    assert!(again.dispatch.is_none());
    assert_eq!(
        again.events,
        vec![GateEvent::Ignored {
            input: wakeguard::gate::InputKind::Answer
        }]
    );
    let again = ok(
        &mut gate,
        Input::ReadbackFinished {
            at: t + seconds(3.0),
        },
    );
    assert!(again.dispatch.is_none());

    // The audit tells the whole story, one line per decision, in order.
    let audit = gate.drain_audit();
    let kinds: Vec<&str> = audit
        .iter()
        .map(|e| match &e.decision {
            Decision::WakeAccepted { .. } => "wake",
            Decision::IntentAccepted { .. } => "intent",
            Decision::ContactMatch {
                verdict: MatchVerdict::Accepted,
                best,
                ..
            } if *best == bob => "match",
            Decision::RecordingStarted { .. } => "rec-start",
            Decision::RecordingFinished {
                duration_samples: 51_200,
                speech_samples: 32_000,
            } => "rec-end",
            Decision::ReadbackIssued { .. } => "readback",
            Decision::ReadbackFinished { .. } => "readback-done",
            Decision::Answer {
                verdict: AnswerVerdict::Yes,
                ..
            } => "yes",
            Decision::Dispatched {
                contact,
                duration_samples: 51_200,
            } if *contact == bob => "dispatched",
            Decision::InputIgnored { .. } => "ignored",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "wake",
            "intent",
            "match",
            "rec-start",
            "rec-end",
            "readback",
            "readback-done",
            "yes",
            "dispatched",
            "ignored",
            "ignored"
        ]
    );
    for entry in &audit {
        let line = entry.to_string();
        assert!(line.starts_with("[t="), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
    assert!(audit[8].to_string().contains("DISPATCHED"));
    assert!(gate.audit().is_empty());
}

#[test]
fn into_audio_returns_the_recording() {
    let (mut gate, alice, _, _) = gate();
    let (fed, _, t) = to_answer(&mut gate, ALICE);
    let mut step = answer(&mut gate, 0.9, 0.0, 0.1, t);
    let message = step.dispatch.take().unwrap();
    assert_eq!(message.recipient(), alice);
    assert_eq!(message.into_audio(), fed);
}

#[test]
fn a_new_wake_after_a_dispatch_starts_a_new_request() {
    let (mut gate, alice, bob, _) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let mut step = answer(&mut gate, 0.9, 0.0, 0.0, t);
    assert_eq!(step.dispatch.take().unwrap().recipient(), alice);
    let t0 = t + seconds(5.0);
    feed(&mut gate, Input::Wake { score: 0.8, at: t0 });
    feed(
        &mut gate,
        Input::Intent {
            score: 0.8,
            at: t0 + 100,
        },
    );
    feed(
        &mut gate,
        Input::Name {
            spoken: spoken(BOB),
            at: t0 + 200,
        },
    );
    let (_, readback, t1) = record(&mut gate, t0 + 200, 10);
    assert_eq!(readback.unwrap().contact, bob);
    feed(&mut gate, Input::ReadbackFinished { at: t1 + 10 });
    let mut step = answer(&mut gate, 0.9, 0.0, 0.0, t1 + 20);
    assert_eq!(step.dispatch.take().unwrap().recipient(), bob);
}

fn check_no_dispatch_answer(yes: f32, no: f32, cancel: f32, reason: CancelReason) {
    let (mut gate, ..) = gate();
    let (fed, _, t) = to_answer(&mut gate, ALICE);
    let step = answer(&mut gate, yes, no, cancel, t + seconds(1.0));
    assert!(step.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &step.events, reason);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
    // Exactly one chance: a clear yes afterwards does nothing.
    let late = answer(&mut gate, 0.99, 0.0, 0.0, t + seconds(2.0));
    assert!(late.dispatch.is_none());
    assert!(cancel_reasons(&late.events).is_empty());
}

#[test]
fn answer_no_does_not_dispatch() {
    check_no_dispatch_answer(0.05, 0.95, 0.0, CancelReason::AnsweredNo);
}

#[test]
fn answer_cancel_does_not_dispatch() {
    check_no_dispatch_answer(0.05, 0.1, 0.9, CancelReason::AnsweredCancel);
}

#[test]
fn unclear_answer_below_threshold_does_not_dispatch() {
    // e.g. "right": some yes-ness but not a clear yes.
    check_no_dispatch_answer(
        0.6,
        0.1,
        0.0,
        CancelReason::AnswerUnclear {
            yes: 0.6,
            no: 0.1,
            cancel: 0.0,
        },
    );
}

#[test]
fn unclear_answer_small_margin_does_not_dispatch() {
    check_no_dispatch_answer(
        0.85,
        0.7,
        0.0,
        CancelReason::AnswerUnclear {
            yes: 0.85,
            no: 0.7,
            cancel: 0.0,
        },
    );
    check_no_dispatch_answer(
        0.9,
        0.1,
        0.75,
        CancelReason::AnswerUnclear {
            yes: 0.9,
            no: 0.1,
            cancel: 0.75,
        },
    );
}

#[test]
fn silence_after_readback_times_out() {
    let (mut gate, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let s = ok(
        &mut gate,
        Input::Tick {
            at: t + seconds(6.0),
        },
    );
    assert!(s.events.is_empty(), "deadline is inclusive");
    let s = ok(
        &mut gate,
        Input::Tick {
            at: t + seconds(6.0) + 1,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::ConfirmTimeout);
    let late = answer(&mut gate, 0.99, 0.0, 0.0, t + seconds(7.0));
    assert!(late.dispatch.is_none());
}

#[test]
fn late_yes_without_ticks_times_out() {
    let (mut gate, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    // The answer itself arrives after the window: the timeout wins.
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + seconds(6.0));
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::ConfirmTimeout);
}

#[test]
fn yes_before_readback_finished_does_not_dispatch() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let (fed, readback, t) = record(&mut gate, t, 10);
    assert!(readback.is_some());
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + 10);
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::AnswerBeforeReadback);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
    // The read-back finishing later cannot revive the request.
    let s = ok(
        &mut gate,
        Input::ReadbackFinished {
            at: t + seconds(2.0),
        },
    );
    let s2 = answer(&mut gate, 0.99, 0.0, 0.0, t + seconds(3.0));
    assert!(s.dispatch.is_none() && s2.dispatch.is_none());
}

#[test]
fn yes_that_began_during_the_prompt_does_not_dispatch() {
    let (mut gate, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let s = ok(
        &mut gate,
        Input::Answer {
            yes: 0.99,
            no: 0.0,
            cancel: 0.0,
            voice: VoiceMatch::NotMeasured,
            started_at: t - seconds(0.3),
            at: t + seconds(0.4),
        },
    );
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::AnswerBeforeReadback);
}

#[test]
fn yes_inside_the_message_does_not_confirm() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let c = speech_chunk(0);
    feed(&mut gate, Input::Audio { samples: &c, at: t });
    // An answer classifier firing on the message content is ignored.
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + CHUNK as u64);
    assert!(s.dispatch.is_none());
    assert_eq!(gate.state(), GateStateKind::Recording);
}

#[test]
fn readback_finished_before_readback_issued_cancels() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    for i in 0..10 {
        let c = speech_chunk(i * CHUNK);
        feed(
            &mut gate,
            Input::Audio {
                samples: &c,
                at: t + (i * CHUNK) as u64,
            },
        );
    }
    // Audio stops; the app claims the prompt is done at a time when the
    // recording only just timed out, so the read-back cannot have been
    // presented yet.
    let at = t + seconds(1.0) + seconds(1.2);
    let s = ok(&mut gate, Input::ReadbackFinished { at });
    assert!(
        matches!(s.events.first(), Some(GateEvent::RecordingFinished { .. })),
        "{:?}",
        s.events
    );
    assert_eq!(
        cancel_reasons(&s.events),
        vec![CancelReason::ReadbackOutOfOrder]
    );
    assert_eq!(gate.buffered_audio_samples(), 0);
}

#[test]
fn readback_never_finished_times_out() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let (_, _, t) = record(&mut gate, t, 10);
    let s = ok(
        &mut gate,
        Input::Tick {
            at: t + seconds(10.5),
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::ReadbackTimeout);
}

#[test]
fn unknown_name_is_refused() {
    let (mut gate, ..) = gate();
    let stranger = name_seq(8, 1.0, 42, 0.05);
    let m = gate.contacts().match_spoken(&stranger).unwrap();
    assert!(m.score < 0.6, "stranger scored {}", m.score);
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 10 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: stranger,
            at: 20,
        },
    );
    assert_cancelled_and_wiped(
        &gate,
        &s.events,
        CancelReason::UnknownContact { score: m.score },
    );
    assert!(gate.audit().iter().any(|e| matches!(
        e.decision,
        Decision::ContactMatch {
            verdict: MatchVerdict::Unknown,
            ..
        }
    )));
}

#[test]
fn ambiguous_name_is_refused() {
    let mut book = toy_book();
    // Two contacts whose names sound almost the same.
    let ann = book
        .add(
            "Ann",
            vec![name_seq(2, 1.0, 1, 0.03), name_seq(2, 1.1, 2, 0.03)],
        )
        .unwrap();
    let anne = book
        .add(
            "Anne",
            vec![name_seq(2, 1.05, 3, 0.03), name_seq(2, 0.95, 4, 0.03)],
        )
        .unwrap();
    book.add("Bob", enrollments(BOB)).unwrap();
    let mut gate = Gate::new(toy_config(), book).unwrap();
    let said = name_seq(2, 1.0, 99, 0.05);
    let m = gate.contacts().match_spoken(&said).unwrap();
    assert!(m.score >= 0.6, "confident on its own: {}", m.score);
    assert!(m.margin < 0.15, "margin {}", m.margin);
    assert!([ann, anne].contains(&m.best));
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 10 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: said,
            at: 20,
        },
    );
    assert_cancelled_and_wiped(
        &gate,
        &s.events,
        CancelReason::AmbiguousContact { margin: m.margin },
    );
}

#[test]
fn blocked_best_match_is_refused_not_rerouted() {
    let (mut gate, alice, bob, _) = gate();
    gate.contacts_mut().block(alice).unwrap();
    let m = gate.contacts().match_spoken(&spoken(ALICE)).unwrap();
    assert_eq!(
        m.best, alice,
        "blocked contacts still take part in matching"
    );
    assert_ne!(m.runner_up.map(|r| r.0), Some(alice));
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 10 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: spoken(ALICE),
            at: 20,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::BlockedContact);
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, GateEvent::ContactMatched { contact, .. } if *contact == bob))
    );
    // After unblocking, the same name goes through.
    gate.contacts_mut().unblock(alice).unwrap();
    let (_, readback, t) = {
        feed(
            &mut gate,
            Input::Wake {
                score: 0.9,
                at: 100,
            },
        );
        feed(
            &mut gate,
            Input::Intent {
                score: 0.9,
                at: 110,
            },
        );
        feed(
            &mut gate,
            Input::Name {
                spoken: spoken(ALICE),
                at: 120,
            },
        );
        record(&mut gate, 120, 10)
    };
    assert_eq!(readback.unwrap().contact, alice);
    feed(&mut gate, Input::ReadbackFinished { at: t + 1 });
    let mut s = answer(&mut gate, 0.9, 0.0, 0.0, t + 2);
    assert_eq!(s.dispatch.take().unwrap().recipient(), alice);
}

#[test]
fn contact_removed_during_recording_cancels_and_wipes() {
    let (mut gate, alice, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let c = speech_chunk(0);
    feed(&mut gate, Input::Audio { samples: &c, at: t });
    feed(
        &mut gate,
        Input::Audio {
            samples: &c,
            at: t + CHUNK as u64,
        },
    );
    assert_eq!(gate.buffered_audio_samples(), 2 * CHUNK);
    gate.contacts_mut().remove(alice).unwrap();
    // A new contact with the same name gets a new id and does not inherit
    // the request.
    let again = gate
        .contacts_mut()
        .add("Alice", enrollments(ALICE))
        .unwrap();
    assert_ne!(again, alice);
    let s = ok(
        &mut gate,
        Input::Audio {
            samples: &c,
            at: t + 2 * CHUNK as u64,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::ContactRemoved);
    assert_eq!(gate.wiped_samples_total(), 2 * CHUNK as u64);
}

#[test]
fn contact_blocked_while_awaiting_answer_cancels() {
    let (mut gate, alice, ..) = gate();
    let (fed, _, t) = to_answer(&mut gate, ALICE);
    gate.contacts_mut().block(alice).unwrap();
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + 10);
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::BlockedContact);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
}

#[test]
fn contact_blocked_and_unblocked_between_inputs_still_cancels() {
    // The block is lifted before the gate sees another input: the request
    // is cancelled all the same (the recipient was blocked at some moment).
    let (mut gate, alice, ..) = gate();
    let (fed, _, t) = to_answer(&mut gate, ALICE);
    gate.contacts_mut().block(alice).unwrap();
    gate.contacts_mut().unblock(alice).unwrap();
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + 10);
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::BlockedContact);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
}

#[test]
fn unblocking_a_contact_that_is_not_blocked_changes_nothing() {
    let (mut gate, alice, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    gate.contacts_mut().unblock(alice).unwrap();
    let mut s = answer(&mut gate, 0.99, 0.0, 0.0, t + 10);
    assert_eq!(s.dispatch.take().unwrap().recipient(), alice);
}

#[test]
fn contact_removed_while_awaiting_answer_cancels() {
    let (mut gate, alice, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    gate.contacts_mut().remove(alice).unwrap();
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + 10);
    assert!(s.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::ContactRemoved);
}

#[test]
fn intent_timeout_cancels() {
    let (mut gate, ..) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    let s = ok(
        &mut gate,
        Input::Tick {
            at: seconds(4.0) + 1,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::IntentTimeout);
    // A late intent does not resume anything.
    let s = ok(
        &mut gate,
        Input::Intent {
            score: 0.99,
            at: seconds(4.5),
        },
    );
    assert_eq!(gate.state(), GateStateKind::Idle);
    assert!(matches!(s.events.as_slice(), [GateEvent::Ignored { .. }]));
}

#[test]
fn late_intent_without_ticks_times_out() {
    let (mut gate, ..) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    let s = ok(
        &mut gate,
        Input::Intent {
            score: 0.99,
            at: seconds(4.0) + 1,
        },
    );
    assert_eq!(cancel_reasons(&s.events), vec![CancelReason::IntentTimeout]);
    assert_eq!(gate.state(), GateStateKind::Idle);
}

#[test]
fn low_intent_cancels() {
    let (mut gate, ..) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    let s = ok(&mut gate, Input::Intent { score: 0.4, at: 5 });
    assert_cancelled_and_wiped(
        &gate,
        &s.events,
        CancelReason::IntentBelowThreshold { score: 0.4 },
    );
}

#[test]
fn name_timeout_cancels() {
    let (mut gate, ..) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 0 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: spoken(ALICE),
            at: seconds(3.0) + 1,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::NameTimeout);
}

#[test]
fn weak_wake_is_ignored_and_wake_during_a_request_changes_nothing() {
    let (mut gate, ..) = gate();
    let s = ok(&mut gate, Input::Wake { score: 0.3, at: 0 });
    assert_eq!(s.events, vec![GateEvent::WakeIgnored { score: 0.3 }]);
    assert_eq!(gate.state(), GateStateKind::Idle);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let s = ok(&mut gate, Input::Wake { score: 0.99, at: t });
    assert_eq!(gate.state(), GateStateKind::AwaitingAnswer);
    assert!(matches!(s.events.as_slice(), [GateEvent::Ignored { .. }]));
}

#[test]
fn time_going_backwards_cancels_and_wipes() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let c = speech_chunk(0);
    feed(
        &mut gate,
        Input::Audio {
            samples: &c,
            at: t + 1000,
        },
    );
    let err = gate.handle(Input::Tick { at: t + 999 }).unwrap_err();
    assert_eq!(
        err.error,
        InputError::TimeWentBackwards {
            at: t + 999,
            last: t + 1000
        }
    );
    assert_eq!(
        err.events,
        vec![GateEvent::Cancelled {
            reason: CancelReason::InvalidInput
        }]
    );
    assert_eq!(gate.state(), GateStateKind::Idle);
    assert_eq!(gate.buffered_audio_samples(), 0);
    assert_eq!(gate.wiped_samples_total(), CHUNK as u64);
    assert_eq!(
        gate.now(),
        t + 1000,
        "a rejected input does not move the clock"
    );
    // Idle: still rejected, nothing to cancel.
    let err = gate.handle(Input::Wake { score: 0.9, at: 0 }).unwrap_err();
    assert!(err.events.is_empty());
    assert!(matches!(
        gate.audit().last().unwrap().decision,
        Decision::InputRejected { .. }
    ));
}

#[test]
fn nan_score_cancels_and_never_dispatches() {
    let (mut gate, ..) = gate();
    let (fed, _, t) = to_answer(&mut gate, ALICE);
    let err = gate
        .handle(Input::Answer {
            yes: f32::NAN,
            no: 0.0,
            cancel: 0.0,
            voice: VoiceMatch::NotMeasured,
            started_at: t,
            at: t + 1,
        })
        .unwrap_err();
    assert!(matches!(
        err.error,
        InputError::InvalidScore { field: "yes", value } if value.is_nan()
    ));
    assert_eq!(
        err.events,
        vec![GateEvent::Cancelled {
            reason: CancelReason::InvalidInput
        }]
    );
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
    let s = answer(&mut gate, 0.99, 0.0, 0.0, t + 2);
    assert!(s.dispatch.is_none());
}

#[test]
fn out_of_range_scores_are_rejected() {
    for bad in [f32::INFINITY, f32::NEG_INFINITY, -0.1, 1.01, f32::NAN] {
        let (mut gate, ..) = gate();
        let err = gate.handle(Input::Wake { score: bad, at: 0 }).unwrap_err();
        assert!(matches!(
            err.error,
            InputError::InvalidScore { field: "wake", .. }
        ));
        assert_eq!(gate.state(), GateStateKind::Idle);
        feed(&mut gate, Input::Wake { score: 0.9, at: 1 });
        let err = gate
            .handle(Input::Intent { score: bad, at: 2 })
            .unwrap_err();
        assert!(matches!(
            err.error,
            InputError::InvalidScore {
                field: "intent",
                ..
            }
        ));
        assert_eq!(
            err.events,
            vec![GateEvent::Cancelled {
                reason: CancelReason::InvalidInput
            }]
        );
        assert_eq!(gate.state(), GateStateKind::Idle);
    }
    // An answer that claims to start after it ended is rejected too.
    let (mut gate, ..) = gate();
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let err = gate
        .handle(Input::Answer {
            yes: 0.99,
            no: 0.0,
            cancel: 0.0,
            voice: VoiceMatch::NotMeasured,
            started_at: t + 5,
            at: t + 4,
        })
        .unwrap_err();
    assert!(matches!(err.error, InputError::AnswerStartsAfterEnd { .. }));
    assert_eq!(gate.state(), GateStateKind::Idle);
}

#[test]
fn wrong_name_dimension_is_rejected() {
    let (mut gate, ..) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 1 });
    let err = gate
        .handle(Input::Name {
            spoken: FeatureSeq::new(3, vec![0.5; 30]).unwrap(),
            at: 2,
        })
        .unwrap_err();
    assert_eq!(
        err.error,
        InputError::Name(ContactError::DimensionMismatch {
            expected: DIM,
            found: 3
        })
    );
    assert_eq!(gate.state(), GateStateKind::Idle);
}

#[test]
fn empty_book_cancels() {
    let mut gate = Gate::new(GateConfig::default(), ContactBook::new()).unwrap();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 1 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: spoken(ALICE),
            at: 2,
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::NoEnrolledContacts);
}

#[test]
fn no_speech_cancels() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let mut at = t;
    let mut reasons = Vec::new();
    while at < t + seconds(6.0) && reasons.is_empty() {
        let c = silence_chunk();
        let s = ok(&mut gate, Input::Audio { samples: &c, at });
        reasons = cancel_reasons(&s.events);
        at += CHUNK as u64;
    }
    assert_eq!(reasons, vec![CancelReason::NoSpeech]);
    assert_eq!(
        at,
        t + seconds(5.0),
        "cancelled when 5 s of audio had no speech"
    );
    assert_eq!(gate.buffered_audio_samples(), 0);
    assert_eq!(gate.wiped_samples_total(), seconds(5.0));
}

#[test]
fn no_audio_at_all_times_out() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let s = ok(
        &mut gate,
        Input::Tick {
            at: t + seconds(5.0),
        },
    );
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::NoSpeech);
}

#[test]
fn too_short_recording_cancels() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    // 0.3 s of speech (< 0.5 s), then silence.
    let (fed, readback, _) = record(&mut gate, t, 3);
    assert!(readback.is_none());
    assert_eq!(gate.state(), GateStateKind::Idle);
    assert_eq!(gate.buffered_audio_samples(), 0);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
    assert!(gate.audit().iter().any(|e| matches!(
        e.decision,
        Decision::Cancelled {
            reason: CancelReason::RecordingTooShort,
            ..
        }
    )));
}

#[test]
fn recording_is_capped_at_max_recording() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let mut readback = None;
    for i in 0..250 {
        let c = speech_chunk(i * CHUNK);
        let s = ok(
            &mut gate,
            Input::Audio {
                samples: &c,
                at: t + (i * CHUNK) as u64,
            },
        );
        assert!(gate.buffered_audio_samples() as u64 <= seconds(20.0));
        if let Some(r) = s.events.iter().find_map(|e| match e {
            GateEvent::Readback(r) => Some(r.clone()),
            _ => None,
        }) {
            assert_eq!(i, 199, "finished by the cap after exactly 20 s");
            readback = Some(r);
            break;
        }
    }
    let readback = readback.expect("cap ends the recording");
    assert_eq!(readback.duration_samples, seconds(20.0));
    assert_eq!(readback.prompt, "Send a 20-second message to Alice?");
    assert_eq!(gate.buffered_audio_samples() as u64, seconds(20.0));
}

#[test]
fn oversized_chunk_is_truncated_at_the_cap() {
    let (mut gate, ..) = gate();
    let t = to_recording(&mut gate, ALICE);
    let big: Vec<i16> = (0..seconds(25.0) as usize)
        .map(|i| (3000.0 * (i as f32 * 0.07).sin()) as i16)
        .collect();
    let s = ok(
        &mut gate,
        Input::Audio {
            samples: &big,
            at: t,
        },
    );
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e, GateEvent::RecordingFinished { duration_samples } if *duration_samples == seconds(20.0))));
    assert_eq!(gate.buffered_audio_samples() as u64, seconds(20.0));
}

#[test]
fn user_cancel_wipes() {
    let (mut gate, ..) = gate();
    let (fed, _, t) = to_answer(&mut gate, CAROL);
    let s = ok(&mut gate, Input::Cancel { at: t + 1 });
    assert_cancelled_and_wiped(&gate, &s.events, CancelReason::UserCancelled);
    assert_eq!(gate.wiped_samples_total(), fed.len() as u64);
}

#[test]
fn dtw_tolerates_time_stretch() {
    let (book, alice, bob, carol) = book();
    for (k, id) in [(ALICE, alice), (BOB, bob), (CAROL, carol)] {
        let mut in_range = f32::INFINITY;
        for stretch in [0.77, 1.3] {
            let said = name_seq(k, stretch, 500 + k as u64, 0.05);
            let m = book.match_spoken(&said).unwrap();
            assert_eq!(m.best, id, "k={k} stretch={stretch}");
            assert!(
                m.margin >= 0.15,
                "k={k} stretch={stretch} margin={}",
                m.margin
            );
            // Confident enough for the gate's default threshold.
            let min = GateConfig::default().contact_min_score;
            assert!(m.score >= min, "k={k} stretch={stretch} score={}", m.score);
            in_range = in_range.min(m.score);
        }
        // Stretched beyond the matcher's 2x tempo limit it is matched only
        // in part, below the in-range stretches above.
        let m = book.match_spoken(&name_seq(k, 2.5, 9, 0.0)).unwrap();
        assert!(
            m.score < in_range,
            "k={k} stretched 2.5x scored {} (in range: {in_range})",
            m.score
        );
    }
}

#[test]
fn stretched_name_goes_through_the_gate() {
    let (mut gate, _, _, carol) = gate();
    feed(&mut gate, Input::Wake { score: 0.9, at: 0 });
    feed(&mut gate, Input::Intent { score: 0.9, at: 1 });
    let s = ok(
        &mut gate,
        Input::Name {
            spoken: name_seq(CAROL, 1.3, 77, 0.05),
            at: 2,
        },
    );
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e, GateEvent::ContactMatched { contact, name, .. } if *contact == carol && name == "Carol")));
}

#[test]
fn invalid_config_is_refused() {
    let err = Gate::new(
        GateConfig {
            confirm_threshold: 0.5,
            wake_threshold: 0.5,
            ..GateConfig::default()
        },
        ContactBook::new(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        GateConfigError::ConfirmNotAboveWake {
            confirm: 0.5,
            wake: 0.5
        }
    );
    assert!(!err.to_string().is_empty());
}

// ---- The voice check (issue 18) ----

fn voice_gate(check: VoiceCheck) -> (Gate, ContactId) {
    let (book, a, _, _) = book();
    let config = GateConfig {
        voice_check: check,
        ..toy_config()
    };
    (Gate::new(config, book).unwrap(), a)
}

fn answer_voice(gate: &mut Gate, voice: VoiceMatch, at: u64) -> Step {
    ok(
        gate,
        Input::Answer {
            yes: 0.95,
            no: 0.02,
            cancel: 0.01,
            voice,
            started_at: at,
            at: at + seconds(0.5),
        },
    )
}

const REQUIRED: VoiceCheck = VoiceCheck::Required {
    min_similarity: 0.4,
};

#[test]
fn voice_check_on_cancels_a_yes_from_another_voice() {
    let (mut gate, _) = voice_gate(REQUIRED);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let step = answer_voice(&mut gate, VoiceMatch::Similarity(0.39), t + seconds(1.0));
    assert!(step.dispatch.is_none());
    assert_cancelled_and_wiped(
        &gate,
        &step.events,
        CancelReason::VoiceMismatch {
            similarity: 0.39,
            min_similarity: 0.4,
        },
    );
    let audit: Vec<String> = gate.audit().iter().map(|e| e.to_string()).collect();
    assert!(
        audit
            .iter()
            .any(|l| l.contains("voice similarity 0.390 (need >= 0.400)")),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|l| l.contains("does not match")),
        "{audit:?}"
    );

    // Not measured: cancelled too (fail closed).
    let (mut gate, _) = voice_gate(REQUIRED);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let step = answer_voice(&mut gate, VoiceMatch::NotMeasured, t + seconds(1.0));
    assert!(step.dispatch.is_none());
    assert_cancelled_and_wiped(&gate, &step.events, CancelReason::VoiceNotMeasured);
    // Gate::answer measures no voice.
    let (mut gate, _) = voice_gate(REQUIRED);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let step = gate
        .answer(0.95, 0.02, 0.01, t + seconds(1.0), t + seconds(1.5))
        .unwrap();
    assert_cancelled_and_wiped(&gate, &step.events, CancelReason::VoiceNotMeasured);

    // At the threshold: sent.
    let (mut gate, alice) = voice_gate(REQUIRED);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let mut step = answer_voice(&mut gate, VoiceMatch::Similarity(0.4), t + seconds(1.0));
    let message = step.dispatch.take().expect("dispatched");
    assert_eq!(message.recipient(), alice);
}

#[test]
fn voice_check_on_leaves_no_and_cancel_as_they_are() {
    let (mut gate, _) = voice_gate(REQUIRED);
    let (_, _, t) = to_answer(&mut gate, ALICE);
    let at = t + seconds(1.0);
    let step = ok(
        &mut gate,
        Input::Answer {
            yes: 0.01,
            no: 0.97,
            cancel: 0.01,
            voice: VoiceMatch::Similarity(-0.5),
            started_at: at,
            at,
        },
    );
    assert_cancelled_and_wiped(&gate, &step.events, CancelReason::AnsweredNo);
}

#[test]
fn voice_check_off_ignores_the_voice() {
    for voice in [
        VoiceMatch::Similarity(-1.0),
        VoiceMatch::NotMeasured,
        VoiceMatch::Similarity(1.0),
    ] {
        let (mut gate, alice) = voice_gate(VoiceCheck::Off);
        let (_, _, t) = to_answer(&mut gate, ALICE);
        let mut step = answer_voice(&mut gate, voice, t + seconds(1.0));
        assert_eq!(step.dispatch.take().expect("dispatched").recipient(), alice);
    }
    assert_eq!(GateConfig::default().voice_check, VoiceCheck::Off);
}

#[test]
fn bad_voice_similarities_and_thresholds_are_refused() {
    for value in [f32::NAN, f32::INFINITY, 1.001, -1.5] {
        let (mut gate, _) = voice_gate(REQUIRED);
        let (_, _, t) = to_answer(&mut gate, ALICE);
        let at = t + seconds(1.0);
        let r = gate
            .handle(Input::Answer {
                yes: 0.95,
                no: 0.0,
                cancel: 0.0,
                voice: VoiceMatch::Similarity(value),
                started_at: at,
                at,
            })
            .unwrap_err();
        assert!(
            matches!(r.error, InputError::InvalidVoiceSimilarity { value: v } if v.to_bits() == value.to_bits()),
            "{r}"
        );
        assert_eq!(cancel_reasons(&r.events), vec![CancelReason::InvalidInput]);
        assert_eq!(gate.buffered_audio_samples(), 0);
    }
    for value in [f32::NAN, 1.5, -1.01, f32::NEG_INFINITY] {
        let config = GateConfig {
            voice_check: VoiceCheck::Required {
                min_similarity: value,
            },
            ..GateConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(GateConfigError::InvalidVoiceThreshold { .. })
        ));
        assert!(Gate::new(config, book().0).is_err());
    }
}
