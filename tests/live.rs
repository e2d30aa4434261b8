//! The live path without a device (issue 15): the capture ring and the
//! worker's input (every sample delivered in hops whatever the callback
//! sizes, channels averaged, other rates resampled, overruns reported before
//! the audio after them, limits, bad sizes), a hole in a request cancels it,
//! the voice's failures cancel, and the device's own prompt is never taken
//! for the answer (echo).

use proptest::prelude::*;

use wakeguard::audio::read_wav;
use wakeguard::audit::Decision;
use wakeguard::gate::{CancelReason, ConfirmedMessage, GateEvent, GateStateKind};
use wakeguard::intent::{FlowEvent, spoken_duration};
use wakeguard::live::{
    Conversation, DEFAULT_ECHO_GUARD, DEFAULT_HOP, EstimatedVoice, LiveError, LiveInput,
    MAX_RING_SAMPLES, Pulled, Voice, VoiceError, capture_ring,
};

mod flow_device;
use flow_device::{flow, flows_dir};

/// Everything `input` hands out until it is empty or ended: the audio, and
/// the losses in the order they came.
fn drain(input: &mut LiveInput) -> (Vec<i16>, Vec<usize>, Vec<u64>, bool) {
    let mut audio = Vec::new();
    let mut hops = Vec::new();
    let mut lost = Vec::new();
    loop {
        match input.pull() {
            Pulled::Audio(a) => {
                hops.push(a.len());
                audio.extend_from_slice(a);
            }
            Pulled::Lost { samples } => lost.push(samples),
            Pulled::Empty => return (audio, hops, lost, false),
            Pulled::Ended => return (audio, hops, lost, true),
        }
    }
}

fn tone(n: usize, rate: f32, freq: f32, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate).sin())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Mono 16 kHz: the samples come out unchanged, in whole hops (but the
    /// last), whatever sizes the callback delivered and however often the
    /// worker pulled.
    #[test]
    fn every_sample_arrives_in_hops_for_any_callback_sizes(
        sizes in proptest::collection::vec(1usize..3_000, 1..40),
        pull_every in 1usize..5,
        seed in any::<u64>(),
    ) {
        let total: usize = sizes.iter().sum();
        let mut state = seed | 1;
        let pcm: Vec<i16> = (0..total)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 48) as i16
            })
            .collect();
        let (mut producer, consumer) = capture_ring(1, total + 1, u64::MAX).unwrap();
        let mut input = LiveInput::new(consumer, 16_000, DEFAULT_HOP).unwrap();
        let mut got = Vec::new();
        let mut hops = Vec::new();
        let mut at = 0;
        for (k, &n) in sizes.iter().enumerate() {
            producer.push(&pcm[at..at + n]);
            at += n;
            if k % pull_every == 0 {
                let (a, h, lost, ended) = drain(&mut input);
                prop_assert!(lost.is_empty() && !ended);
                got.extend(a);
                hops.extend(h);
            }
        }
        drop(producer);
        let (a, h, lost, ended) = drain(&mut input);
        prop_assert!(lost.is_empty() && ended);
        got.extend(a);
        hops.extend(h);
        prop_assert_eq!(&got, &pcm);
        let (last, whole) = hops.split_last().unwrap();
        prop_assert!(whole.iter().all(|&h| h == DEFAULT_HOP));
        prop_assert!(*last >= 1 && *last <= DEFAULT_HOP);
    }

    /// 48 kHz stereo: the resampled output does not depend on how the
    /// callback cut the input.
    #[test]
    fn resampling_does_not_depend_on_callback_sizes(
        sizes in proptest::collection::vec(1usize..5_000, 1..20),
    ) {
        let total: usize = sizes.iter().sum();
        let mono = tone(total, 48_000.0, 440.0, 0.4);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let run = |cuts: &[usize]| {
            let (mut producer, consumer) = capture_ring(2, total + 1, u64::MAX).unwrap();
            let mut input = LiveInput::new(consumer, 48_000, 320).unwrap();
            let mut out = Vec::new();
            let mut at = 0;
            for &n in cuts {
                producer.push(&stereo[2 * at..2 * (at + n)]);
                at += n;
                out.extend(drain(&mut input).0);
            }
            out
        };
        prop_assert_eq!(run(&sizes), run(&[total]));
    }
}

#[test]
fn stereo_is_averaged_and_integer_formats_are_scaled() {
    let (mut producer, consumer) = capture_ring(2, 4_000, u64::MAX).unwrap();
    let mut input = LiveInput::new(consumer, 16_000, 4).unwrap();
    producer.push(&[1_000i16, -500, 1_000, -500, 8_000, 8_000, -32_768, -32_768]);
    producer.push(&[0.5f32, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0]);
    producer.push(&[
        32_768u16 + 16_384,
        32_768 + 16_384,
        32_768,
        32_768,
        0,
        0,
        65_535,
        65_535,
    ]);
    let (audio, hops, _, _) = drain(&mut input);
    assert_eq!(hops, vec![4, 4, 4]);
    assert_eq!(
        audio,
        vec![
            250, 250, 8_000, -32_768, 8_192, 8_192, 8_192, 8_192, 16_384, 0, -32_768, 32_767
        ]
    );
}

#[test]
fn a_48k_stereo_tone_comes_out_at_16k_with_its_frequency_and_level() {
    let secs = 2;
    let left = tone(48_000 * secs, 48_000.0, 1_000.0, 0.5);
    let stereo: Vec<f32> = left.iter().flat_map(|&s| [s, s]).collect();
    let (mut producer, consumer) = capture_ring(2, 48_000 * secs + 1, u64::MAX).unwrap();
    let mut input = LiveInput::new(consumer, 48_000, DEFAULT_HOP).unwrap();
    for chunk in stereo.chunks(2 * 480) {
        producer.push(chunk);
    }
    drop(producer);
    let (audio, _, lost, ended) = drain(&mut input);
    assert!(lost.is_empty() && ended);
    // A third of the frames, less what the resampler still holds.
    let n = audio.len();
    assert!((30_000..=32_000).contains(&n), "{n} samples");
    // Amplitude at 1 kHz over the steady middle second, and nothing at 3 kHz.
    let mid: Vec<f64> = audio[8_000..24_000]
        .iter()
        .map(|&s| s as f64 / 32_768.0)
        .collect();
    let amp = |f: f64| {
        let (mut c, mut s) = (0.0, 0.0);
        for (i, x) in mid.iter().enumerate() {
            let w = 2.0 * std::f64::consts::PI * f * i as f64 / 16_000.0;
            c += x * w.cos();
            s += x * w.sin();
        }
        2.0 * (c * c + s * s).sqrt() / mid.len() as f64
    };
    let a1 = amp(1_000.0);
    assert!((a1 - 0.5).abs() < 0.02, "1 kHz amplitude {a1}");
    assert!(amp(3_000.0) < 0.005);
}

#[test]
fn an_overrun_is_reported_before_the_audio_after_it() {
    let (mut producer, consumer) = capture_ring(1, 4_000, u64::MAX).unwrap();
    let mut input = LiveInput::new(consumer, 16_000, 1_000).unwrap();
    producer.push(&[1i16; 3_000]);
    producer.push(&[2i16; 3_000]); // no room: dropped whole
    assert_eq!(producer.lost_frames(), 3_000);
    let (audio, _, lost, _) = drain(&mut input);
    assert_eq!(lost, vec![3_000]);
    assert_eq!(audio, vec![1i16; 3_000]);
    producer.push(&[3i16; 1_000]);
    let (audio, _, lost, _) = drain(&mut input);
    assert!(lost.is_empty());
    assert_eq!(audio, vec![3i16; 1_000]);
    assert_eq!(input.overruns(), 1);
    // A loss the driver reports has no known length.
    producer.loss_reporter().report();
    assert_eq!(drain(&mut input).2, vec![0]);
    assert_eq!(input.device_losses(), 1);
}

#[test]
fn a_limit_ends_the_input_after_exactly_that_many_frames() {
    let (mut producer, consumer) = capture_ring(2, 10_000, 1_500).unwrap();
    let mut input = LiveInput::new(consumer, 16_000, 1_000).unwrap();
    for _ in 0..3 {
        producer.push(&[7i16; 2_000]);
    }
    let (audio, hops, lost, ended) = drain(&mut input);
    assert_eq!(
        (audio.len(), hops, lost, ended),
        (1_500, vec![1_000, 500], vec![], true)
    );
}

#[test]
fn bad_sizes_and_rates_are_typed_errors() {
    let bad = |r: Result<_, LiveError>| matches!(r, Err(LiveError::BadFormat { .. }));
    assert!(bad(capture_ring(0, 100, u64::MAX).map(|_| ())));
    assert!(bad(capture_ring(1, 0, u64::MAX).map(|_| ())));
    assert!(bad(capture_ring(8, MAX_RING_SAMPLES, u64::MAX).map(|_| ())));
    assert!(bad(capture_ring(u16::MAX, usize::MAX, u64::MAX).map(|_| ())));
    for (rate, hop) in [
        (0, 1_600),
        (7_999, 1_600),
        (384_001, 1_600),
        (16_000, 0),
        (16_000, 16_001),
    ] {
        let (_, consumer) = capture_ring(1, 100, u64::MAX).unwrap();
        assert!(
            bad(LiveInput::new(consumer, rate, hop).map(|_| ())),
            "{rate} {hop}"
        );
    }
}

// ------------------------------------------------------------- the flow --

/// The recording's samples.
fn recording(voice: &str, scenario: &str) -> Vec<i16> {
    read_wav(flows_dir(voice).join(format!("{scenario}.wav")))
        .unwrap()
        .to_i16()
}

struct Run {
    events: Vec<FlowEvent>,
    dispatched: usize,
}

impl Run {
    fn cancels(&self) -> Vec<CancelReason> {
        flow_device::cancel_reasons(&self.events)
    }
}

fn take(m: Option<ConfirmedMessage>, dispatched: &mut usize) {
    if let Some(m) = m {
        m.dispatch(|_, _, _| *dispatched += 1);
    }
}

/// Plays `pcm` through a capture ring into a conversation, in callbacks of
/// 1 600 samples; `starve(conversation)` says when the worker stops pulling
/// for a while (so that the ring overflows).
fn through_ring<V: Voice>(
    mut conv: Conversation<V>,
    pcm: &[i16],
    mut starve: impl FnMut(&Conversation<V>) -> bool,
) -> (Run, Conversation<V>) {
    let (mut producer, consumer) = capture_ring(1, 8_000, u64::MAX).unwrap();
    let mut input = LiveInput::new(consumer, 16_000, DEFAULT_HOP).unwrap();
    let mut events = Vec::new();
    let mut dispatched = 0;
    let mut starving = 0;
    let tail = vec![0i16; 16_000 * 30];
    for chunk in pcm.chunks(1_600).chain(tail.chunks(1_600)) {
        producer.push(chunk);
        if starving == 0 && starve(&conv) {
            // This and 8 more callbacks (0.9 s) before the worker pulls
            // again: the 0.5 s ring takes 5, the last 4 (0.4 s) are lost.
            starving = 8;
        }
        if starving > 0 {
            starving -= 1;
            continue;
        }
        loop {
            match input.pull() {
                Pulled::Audio(a) => take(conv.push(a, &mut events).unwrap(), &mut dispatched),
                Pulled::Lost { samples } => conv.audio_lost(samples, &mut events),
                Pulled::Empty | Pulled::Ended => break,
            }
        }
    }
    (Run { events, dispatched }, conv)
}

#[test]
fn through_the_ring_the_flow_dispatches_as_from_the_file() {
    let (run, conv) = through_ring(Conversation::new(flow("m")), &recording("m", "yes"), |_| {
        false
    });
    assert_eq!(run.dispatched, 1);
    assert!(run.cancels().is_empty());
    assert!(
        !conv
            .flow()
            .gate()
            .audit()
            .iter()
            .any(|e| matches!(e.decision, Decision::AudioLost { .. }))
    );
}

#[test]
fn audio_lost_during_a_request_cancels_it_in_every_state() {
    for state in [
        GateStateKind::AwaitingName,
        GateStateKind::Recording,
        GateStateKind::AwaitingReadback,
        GateStateKind::AwaitingAnswer,
    ] {
        let mut once = true;
        let (run, conv) = through_ring(Conversation::new(flow("m")), &recording("m", "yes"), |c| {
            let hit = once && c.flow().gate().state() == state;
            once &= !hit;
            hit
        });
        assert!(!once, "{state:?} never reached");
        assert_eq!(run.dispatched, 0, "{state:?}");
        assert_eq!(
            run.cancels(),
            vec![CancelReason::AudioLost { samples: 6_400 }],
            "{state:?}"
        );
        assert!(
            run.events
                .iter()
                .any(|e| matches!(e, FlowEvent::AudioLost { samples: 6_400, .. }))
        );
        let gate = conv.flow().gate();
        assert!(gate.audit().iter().any(|e| matches!(
            e.decision,
            Decision::AudioLost { samples: 6_400, state: s } if s == state
        )));
        assert_eq!(gate.buffered_audio_samples(), 0);
        assert!(!conv.prompting());
    }
}

#[test]
fn audio_lost_while_idle_is_audited_and_the_request_after_it_goes_through() {
    // 2 s of quiet first: the 0.4 s lost fall into it.
    let mut pcm = vec![0i16; 32_000];
    pcm.extend(recording("m", "yes"));
    let mut first = true;
    let (run, conv) = through_ring(Conversation::new(flow("m")), &pcm, |_| {
        std::mem::take(&mut first)
    });
    assert_eq!(run.dispatched, 1);
    assert!(run.cancels().is_empty());
    assert!(conv.flow().gate().audit().iter().any(|e| matches!(
        e.decision,
        Decision::AudioLost {
            state: GateStateKind::Idle,
            ..
        }
    )));
}

/// A voice whose text-to-speech fails, or that records what it was asked.
#[derive(Default)]
struct TestVoice {
    fail_start: bool,
    fail_later: bool,
    started: Vec<String>,
    stops: usize,
    inner: EstimatedVoice,
}

impl Voice for TestVoice {
    fn start(&mut self, prompt: &str, at: u64) -> Result<(), VoiceError> {
        self.started.push(prompt.to_string());
        if self.fail_start {
            return Err(VoiceError::Io(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        }
        self.inner.start(prompt, at)
    }
    fn finished(&mut self, _now: u64) -> Result<bool, VoiceError> {
        if self.fail_later {
            return Err(VoiceError::Failed {
                status: "exit status: 1".into(),
            });
        }
        self.inner.finished(_now)
    }
    fn stop(&mut self) {
        self.stops += 1;
        self.inner.stop();
    }
}

#[test]
fn a_voice_that_fails_cancels_the_request() {
    for (fail_start, fail_later) in [(true, false), (false, true)] {
        let voice = TestVoice {
            fail_start,
            fail_later,
            ..TestVoice::default()
        };
        let conv = Conversation::with_voice(flow("m"), voice, 0);
        let (run, conv) = through_ring(conv, &recording("m", "yes"), |_| false);
        assert_eq!(run.dispatched, 0);
        assert!(
            run.events
                .iter()
                .any(|e| matches!(e, FlowEvent::VoiceFailed { .. }))
        );
        assert_eq!(run.cancels(), vec![CancelReason::UserCancelled]);
        assert_eq!(
            conv.voice().started,
            vec!["Send a 3-second message to Alice?".to_string()]
        );
        assert!(conv.voice().stops >= 1);
    }
}

#[test]
fn the_prompt_is_stopped_when_its_request_is_cancelled() {
    let mut once = true;
    let conv = Conversation::with_voice(flow("m"), TestVoice::default(), 0);
    let (run, conv) = through_ring(conv, &recording("m", "yes"), |c| {
        let hit = once && c.prompting();
        once &= !hit;
        hit
    });
    assert!(!once);
    assert_eq!(run.dispatched, 0);
    assert_eq!(conv.voice().stops, 1);
    assert!(!conv.prompting());
}

// ----------------------------------------------------------------- echo --

/// Where the simulated voice of `m/silence.wav` (no answer in it) finishes
/// the read-back: the end of the first 1 600-sample chunk at or after the
/// prompt's spoken duration.
fn prompt_end() -> (u64, u64) {
    let pcm = recording("m", "silence");
    let mut conv = Conversation::new(flow("m"));
    let mut events = Vec::new();
    for chunk in pcm.chunks(1_600) {
        let _ = conv.push(chunk, &mut events).unwrap();
    }
    let (at, prompt) = events
        .iter()
        .find_map(|e| match e {
            FlowEvent::Gate {
                at,
                event: GateEvent::Readback(r),
            } => Some((*at, r.prompt.clone())),
            _ => None,
        })
        .unwrap();
    let due = at + spoken_duration(&prompt);
    (at, due.div_ceil(1_600) * 1_600)
}

/// `m/silence.wav` with a "yes" heard from sample `at` on (the device's
/// own voice), run with echo guard `guard`.
fn with_echo(at: u64, guard: u64) -> Run {
    let mut pcm = recording("m", "silence");
    let yes = read_wav(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/answers/yes_espeak.wav"),
    )
    .unwrap()
    .to_i16();
    let end = at as usize + yes.len() + 16_000;
    if pcm.len() < end {
        pcm.resize(end, 0);
    }
    for (i, &s) in yes.iter().enumerate() {
        let p = &mut pcm[at as usize + i];
        *p = p.saturating_add(s);
    }
    let conv = Conversation::with_voice(flow("m"), EstimatedVoice::default(), guard);
    through_ring(conv, &pcm, |_| false).0
}

fn yes_len() -> u64 {
    read_wav(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/answers/yes_espeak.wav"),
    )
    .unwrap()
    .to_i16()
    .len() as u64
}

/// The control: a "yes" well after the prompt (0.6 s) confirms, with or
/// without the guard, so the tests below can fail.
#[test]
fn a_yes_after_the_prompt_and_its_guard_confirms() {
    let (_, end) = prompt_end();
    for guard in [0, DEFAULT_ECHO_GUARD] {
        assert_eq!(with_echo(end + 9_600, guard).dispatched, 1, "guard {guard}");
    }
}

/// The prompt itself saying "yes" while it plays is never scored.
#[test]
fn the_prompt_saying_yes_while_it_plays_does_not_confirm() {
    let (issued, end) = prompt_end();
    let run = with_echo(issued + (end - issued) / 2 - yes_len() / 2, 0);
    assert_eq!(run.dispatched, 0);
    assert!(
        !run.events
            .iter()
            .any(|e| matches!(e, FlowEvent::Answer { .. }))
    );
    assert_eq!(run.cancels(), vec![CancelReason::ConfirmTimeout]);
}

/// The prompt's last word, "yes", still heard when the voice reports the
/// prompt finished (output latency): speech under way when the window opens
/// is not an answer.
#[test]
fn the_prompt_ending_in_yes_heard_past_its_end_does_not_confirm() {
    let (_, end) = prompt_end();
    for guard in [0, DEFAULT_ECHO_GUARD] {
        // The word's middle falls on the opening of the window.
        let opens = end + guard;
        let run = with_echo(opens - yes_len() / 2, guard);
        assert_eq!(run.dispatched, 0, "guard {guard}");
        assert_eq!(
            run.cancels(),
            vec![CancelReason::ConfirmTimeout],
            "guard {guard}"
        );
    }
}

/// The prompt's echo arriving just after the voice finished (its speech
/// 0.1 s later, after a pause): without a guard it would be taken for the
/// answer; the default guard keeps it out. (The clip's speech starts 0.2 s
/// into it.)
#[test]
fn the_echo_guard_keeps_a_late_echo_of_the_prompt_out() {
    let (_, end) = prompt_end();
    let at = end + 1_600 - 3_200;
    assert_eq!(with_echo(at, 0).dispatched, 1, "the control must confirm");
    let run = with_echo(at, DEFAULT_ECHO_GUARD);
    assert_eq!(run.dispatched, 0);
    assert_eq!(run.cancels(), vec![CancelReason::ConfirmTimeout]);
}
