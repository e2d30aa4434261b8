//! Whole send-message requests on real audio (text-to-speech recordings in
//! three voices, made by `testdata/make_flows.py`): exactly one flow per
//! voice dispatches; every other ending fails closed with the right reason.

use wakeguard::audio::read_wav;
use wakeguard::gate::{CancelReason, GateEvent, GateStateKind};
use wakeguard::intent::FlowEvent;

mod flow_device;
use flow_device::{device, flows_dir};

struct Outcome {
    /// (recipient, seconds of audio) of every dispatched message.
    dispatched: Vec<(String, f64)>,
    cancels: Vec<CancelReason>,
    readbacks: usize,
    answer_before_readback: bool,
}

fn play(voice: &str, scenario: &str) -> Outcome {
    play_in_chunks(voice, scenario, 1_600).0
}

/// Plays a recording pushed `chunk` samples at a time; also returns the
/// spoken-name spans the flow cut out.
fn play_in_chunks(voice: &str, scenario: &str, chunk: usize) -> (Outcome, Vec<(u64, u64)>) {
    let mut dev = device(voice);
    let pcm = read_wav(flows_dir(voice).join(format!("{scenario}.wav")))
        .unwrap()
        .to_i16();
    let mut events = Vec::new();
    let mut dispatched = Vec::new();
    let mut take = |m: Option<wakeguard::gate::ConfirmedMessage>| {
        if let Some(m) = m {
            m.dispatch(|_, name, audio| {
                dispatched.push((name.to_string(), audio.len() as f64 / 16_000.0))
            });
        }
    };
    for part in pcm.chunks(chunk) {
        take(dev.push(part, &mut events).unwrap());
    }
    take(dev.drain(16_000 * 30, &mut events).unwrap());
    assert_eq!(dev.flow().gate().state(), GateStateKind::Idle);
    assert_eq!(dev.flow().gate().buffered_audio_samples(), 0);

    let mut readback_seen = false;
    let mut answer_before_readback = false;
    let mut cancels = Vec::new();
    let mut readbacks = 0;
    for e in &events {
        match e {
            FlowEvent::Gate {
                event: GateEvent::Readback(_),
                ..
            } => {
                readback_seen = true;
                readbacks += 1;
            }
            FlowEvent::Answer { .. } if !readback_seen => answer_before_readback = true,
            FlowEvent::Gate {
                event: GateEvent::Cancelled { reason },
                ..
            } => cancels.push(*reason),
            _ => {}
        }
    }
    let names = events
        .iter()
        .filter_map(|e| match e {
            FlowEvent::NameSegment { start, end, .. } => Some((*start, *end)),
            _ => None,
        })
        .collect();
    (
        Outcome {
            dispatched,
            cancels,
            readbacks,
            answer_before_readback,
        },
        names,
    )
}

/// The spoken name ends at the first pause and the message at its end
/// silence, however the audio arrives: a whole second per call must not
/// merge the name with the message after it (it did before the segmenter
/// stopped at the pause), and the recording must not grow by the chunk
/// size (it did before the recorder judged frames on its own grid).
#[test]
fn name_and_recording_do_not_depend_on_chunk_size() {
    let (small, small_names) = play_in_chunks("m", "yes", 160);
    assert_eq!(small_names.len(), 1);
    let (s, e) = small_names[0];
    assert!(e - s < 16_000, "name span {s}..{e} longer than 1 s");
    assert_eq!(small.dispatched.len(), 1);
    for chunk in [480, 1_600, 3_200] {
        let (other, names) = play_in_chunks("m", "yes", chunk);
        assert_eq!(names, small_names, "chunk {chunk}");
        assert_eq!(other.dispatched, small.dispatched, "chunk {chunk}");
    }
    // With a second or more per call the device only learns that the
    // recording ended at the end of a call, so the simulated read-back
    // starts up to that much later and the recorded "yes" falls before the
    // answer window: no dispatch then, but the same name.
    for chunk in [16_000, 48_000] {
        let (late, names) = play_in_chunks("m", "yes", chunk);
        assert_eq!(names, small_names, "chunk {chunk}");
        assert!(late.dispatched.len() <= 1, "chunk {chunk}");
    }
}

#[test]
fn yes_dispatches_once_in_the_espeak_voices() {
    for voice in ["m", "f"] {
        let o = play(voice, "yes");
        assert_eq!(o.dispatched.len(), 1, "voice {voice}: {:?}", o.cancels);
        let (to, secs) = &o.dispatched[0];
        assert_eq!(to, "Alice");
        // "Home at six, see you." is about 1.5 s of speech, plus the end silence.
        assert!((1.0..=6.0).contains(secs), "voice {voice}: {secs} s");
        assert_eq!(o.readbacks, 1);
        assert!(!o.answer_before_readback);
        assert!(o.cancels.is_empty(), "voice {voice}: {:?}", o.cancels);
    }
    // The flite voice is at the edge twice. Its "Alice" inside the sentence
    // scores 0.674 against its two isolated enrollments ("Alice." and
    // "Alice?"), just above the default contact_min_score of 0.67; its
    // "Yes." gets p(yes) 0.73 from the answer scorer, below the gate's 0.8.
    // So it is sent to Alice, or refused at the name, or its answer read as
    // unclear (as now), never anything else.
    let o = play("k", "yes");
    match o.dispatched.as_slice() {
        [(to, _)] => assert_eq!(to, "Alice"),
        [] => assert!(
            matches!(
                o.cancels.as_slice(),
                [CancelReason::UnknownContact { .. } | CancelReason::AnswerUnclear { .. }]
            ),
            "{:?}",
            o.cancels
        ),
        more => panic!("{more:?}"),
    }
}

fn assert_refused(voice: &str, scenario: &str, expected: fn(&CancelReason) -> bool) {
    let o = play(voice, scenario);
    assert!(
        o.dispatched.is_empty(),
        "{voice}/{scenario} dispatched {:?}",
        o.dispatched
    );
    assert!(
        o.cancels.first().is_some_and(expected),
        "{voice}/{scenario}: cancels {:?}",
        o.cancels
    );
}

#[test]
fn no_and_cancel_and_stop_refuse() {
    // "no" is the model's weakest answer (61 % of held-out "no" clips are
    // read as a clear no, the rest as unclear): either way the request is
    // cancelled.
    let no_or_unclear = |r: &CancelReason| {
        matches!(
            r,
            CancelReason::AnsweredNo | CancelReason::AnswerUnclear { .. }
        )
    };
    assert_refused("m", "no", no_or_unclear);
    // In the flite voice the name is refused before the answer (see
    // `yes_dispatches_once_in_the_espeak_voices`); nothing is sent.
    let o = play("k", "no");
    assert!(o.dispatched.is_empty());
    assert!(
        o.cancels
            .iter()
            .all(|r| no_or_unclear(r) || matches!(r, CancelReason::UnknownContact { .. })),
        "{:?}",
        o.cancels
    );
    assert_refused("m", "cancel", |r| *r == CancelReason::AnsweredCancel);
    assert_refused("f", "stop", |r| *r == CancelReason::AnsweredCancel);
}

#[test]
fn right_and_chatter_are_not_a_yes() {
    assert_refused("m", "right", |r| {
        matches!(r, CancelReason::AnswerUnclear { .. })
    });
    assert_refused("m", "chatter", |r| {
        matches!(r, CancelReason::AnswerUnclear { .. })
    });
}

#[test]
fn silence_after_readback_times_out() {
    assert_refused("m", "silence", |r| *r == CancelReason::ConfirmTimeout);
}

#[test]
fn unknown_and_blocked_recipients_are_refused_before_recording() {
    let o = play("m", "unknown");
    assert!(o.dispatched.is_empty());
    assert_eq!(o.readbacks, 0);
    assert!(
        matches!(o.cancels[0], CancelReason::UnknownContact { .. }),
        "{:?}",
        o.cancels
    );
    // "Oliver" (blocked) is refused because he is blocked, or (should his
    // score fall under `contact_min_score`) as not recognised; it is never
    // rerouted to another contact (`gate_flows` pins the blocked verdict).
    let o = play("m", "blocked");
    assert!(o.dispatched.is_empty());
    assert_eq!(o.readbacks, 0);
    assert!(
        matches!(
            o.cancels[0],
            CancelReason::BlockedContact | CancelReason::UnknownContact { .. }
        ),
        "{:?}",
        o.cancels
    );
}

#[test]
fn contact_blocked_after_readback_is_not_sent() {
    let mut dev = device("m");
    let pcm = read_wav(flows_dir("m").join("yes.wav")).unwrap().to_i16();
    let mut events = Vec::new();
    let mut sent = 0;
    let mut blocked = false;
    for chunk in pcm.chunks(1_600) {
        if let Some(m) = dev.push(chunk, &mut events).unwrap() {
            m.dispatch(|_, _, _| sent += 1);
        }
        let readback = events.iter().any(|e| {
            matches!(
                e,
                FlowEvent::Gate {
                    event: GateEvent::Readback(_),
                    ..
                }
            )
        });
        if readback && !blocked {
            let gate = dev.flow_mut().gate_mut();
            let alice = gate
                .contacts()
                .iter()
                .find(|(_, name, _)| *name == "Alice")
                .map(|(id, _, _)| id)
                .unwrap();
            gate.contacts_mut().block(alice).unwrap();
            blocked = true;
        }
    }
    if let Some(m) = dev.drain(16_000 * 30, &mut events).unwrap() {
        m.dispatch(|_, _, _| sent += 1);
    }
    assert!(blocked);
    assert_eq!(sent, 0);
    assert_eq!(dev.flow().gate().buffered_audio_samples(), 0);
}

/// Where the answer is found (its first and last speech frame) is on the
/// stream's 10 ms grid, whatever the chunking (the soak found it was not:
/// the segmenter scanned from each chunk's start and skipped the partial
/// frame at its end).
#[test]
fn the_answer_is_found_at_the_same_samples_in_any_chunking() {
    let pcm = read_wav(flows_dir("m").join("yes.wav")).unwrap().to_i16();
    let mut spans = Vec::new();
    for chunk in [1_600, 7_999, 333, 8_000] {
        let mut dev = device("m");
        let mut events = Vec::new();
        for c in pcm.chunks(chunk) {
            dev.push(c, &mut events).unwrap();
        }
        dev.drain(16_000 * 8, &mut events).unwrap();
        let answers: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                FlowEvent::Answer { start, end, .. } => Some((*start, *end)),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 1, "chunk {chunk}");
        assert_eq!(answers[0].0 % 160, 0, "chunk {chunk}: {answers:?}");
        spans.push(answers[0]);
    }
    assert!(spans.windows(2).all(|w| w[0] == w[1]), "{spans:?}");
}
