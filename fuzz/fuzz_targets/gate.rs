//! The gate fed arbitrary input sequences, contact changes and times. A
//! crash is: a panic; a dispatch that did not follow a read-back, the
//! application's "read-back finished" and an accepted answer in the same
//! request; a dispatch to a contact other than the one read back, or to a
//! blocked or removed one; two dispatches in one request; audio kept after
//! a cancel; with the voice check on, a dispatch on an answer whose voice
//! was not measured or below the threshold.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wakeguard::contacts::{ContactBook, ContactId, FeatureSeq};
use wakeguard::gate::{Gate, GateConfig, GateEvent, Input, VoiceCheck, VoiceMatch};

#[derive(Arbitrary, Debug)]
enum Op {
    Wake(u8),
    Intent(u8),
    /// The spoken name: an enrollment of contact `k % 3`, perturbed, or noise.
    Name {
        k: u8,
        noise: u8,
    },
    Audio {
        len: u16,
        loud: bool,
    },
    ReadbackFinished,
    Answer {
        yes: u8,
        no: u8,
        cancel: u8,
        back: u16,
        /// The voice similarity in steps of 1/127, or not measured.
        voice: Option<i8>,
    },
    Tick,
    Cancel,
    AudioLost(u16),
    Block(u8),
    Unblock(u8),
    Remove(u8),
    /// Raw score bytes, including NaN and out-of-range values.
    RawAnswer {
        yes: f32,
        no: f32,
        cancel: f32,
        voice: f32,
    },
}

#[derive(Arbitrary, Debug)]
struct Run {
    /// The voice check's threshold in steps of 1/127, or off.
    voice_check: Option<i8>,
    steps: Vec<Step>,
}

fn similarity(v: Option<i8>) -> VoiceMatch {
    v.map_or(VoiceMatch::NotMeasured, |v| {
        VoiceMatch::Similarity((f32::from(v) / 127.0).max(-1.0))
    })
}

#[derive(Arbitrary, Debug)]
struct Step {
    op: Op,
    /// Time advance: small, or across a timeout.
    dt: u16,
    big: bool,
}

fn enrollment(k: usize, jitter: u8) -> FeatureSeq {
    let frames = 30 + 5 * k;
    let data = (0..frames * 4)
        .map(|i| {
            let t = i as f32 * (0.3 + 0.4 * k as f32);
            t.sin() + f32::from(jitter) * 0.002 * ((i * 7919) % 13) as f32
        })
        .collect();
    FeatureSeq::new(4, data).unwrap()
}

fn score(b: u8) -> f32 {
    f32::from(b) / 255.0
}

fuzz_target!(|run: Run| {
    let Run { voice_check, steps } = run;
    let voice_check = voice_check.map_or(VoiceCheck::Off, |v| VoiceCheck::Required {
        min_similarity: (f32::from(v) / 127.0).max(-1.0),
    });
    let mut book = ContactBook::new();
    let ids: Vec<ContactId> = (0..3)
        .map(|k| {
            book.add(&format!("c{k}"), vec![enrollment(k, 0), enrollment(k, 3)])
                .unwrap()
        })
        .collect();
    let config = GateConfig {
        voice_check,
        ..GateConfig::default()
    };
    let mut gate = Gate::new(config, book).unwrap();
    let mut now: u64 = 0;
    // What the current request has been through.
    let mut read_back_to: Option<ContactId> = None;
    let mut window_opened = false;
    let mut dispatched_in_request = false;
    for s in steps.into_iter().take(200) {
        now += if s.big {
            u64::from(s.dt) * 64
        } else {
            u64::from(s.dt)
        };
        let mut voice_now = VoiceMatch::NotMeasured;
        let r = match s.op {
            Op::Wake(b) => gate.handle(Input::Wake {
                score: score(b),
                at: now,
            }),
            Op::Intent(b) => gate.handle(Input::Intent {
                score: score(b),
                at: now,
            }),
            Op::Name { k, noise } => {
                let spoken = enrollment(usize::from(k % 3), noise);
                gate.handle(Input::Name { spoken, at: now })
            }
            Op::Audio { len, loud } => {
                let samples: Vec<i16> = (0..len)
                    .map(|i| {
                        if loud {
                            ((i % 50) as i16 - 25) * 400
                        } else {
                            0
                        }
                    })
                    .collect();
                gate.handle(Input::Audio {
                    samples: &samples,
                    at: now,
                })
            }
            Op::ReadbackFinished => gate.handle(Input::ReadbackFinished { at: now }),
            Op::Answer {
                yes,
                no,
                cancel,
                back,
                voice,
            } => {
                voice_now = similarity(voice);
                gate.handle(Input::Answer {
                    yes: score(yes),
                    no: score(no),
                    cancel: score(cancel),
                    voice: voice_now,
                    started_at: now.saturating_sub(u64::from(back)),
                    at: now,
                })
            }
            Op::RawAnswer {
                yes,
                no,
                cancel,
                voice,
            } => {
                voice_now = VoiceMatch::Similarity(voice);
                gate.handle(Input::Answer {
                    yes,
                    no,
                    cancel,
                    voice: voice_now,
                    started_at: now,
                    at: now,
                })
            }
            Op::Tick => gate.handle(Input::Tick { at: now }),
            Op::Cancel => gate.handle(Input::Cancel { at: now }),
            Op::AudioLost(n) => gate.handle(Input::AudioLost {
                samples: u64::from(n),
                at: now,
            }),
            Op::Block(i) => {
                let _ = gate.contacts_mut().block(ids[usize::from(i) % 3]);
                continue;
            }
            Op::Unblock(i) => {
                let _ = gate.contacts_mut().unblock(ids[usize::from(i) % 3]);
                continue;
            }
            Op::Remove(i) => {
                let _ = gate.contacts_mut().remove(ids[usize::from(i) % 3]);
                continue;
            }
        };
        let (events, dispatch) = match r {
            Ok(step) => (step.events, step.dispatch),
            Err(rejected) => (rejected.events, None),
        };
        let mut accepted_now = false;
        for e in &events {
            match e {
                GateEvent::WakeAccepted { .. } => {
                    read_back_to = None;
                    window_opened = false;
                    dispatched_in_request = false;
                }
                GateEvent::Readback(r) => read_back_to = Some(r.contact),
                GateEvent::AnswerWindowOpened { .. } => {
                    assert!(read_back_to.is_some(), "answer window without a read-back");
                    window_opened = true;
                }
                GateEvent::AnswerAccepted { .. } => accepted_now = true,
                GateEvent::Cancelled { .. } => {
                    read_back_to = None;
                    window_opened = false;
                }
                _ => {}
            }
        }
        if let Some(message) = dispatch {
            assert!(accepted_now, "dispatch without an accepted answer");
            assert!(
                window_opened,
                "dispatch without the read-back reported finished"
            );
            assert_eq!(
                Some(message.recipient()),
                read_back_to,
                "dispatch to another contact"
            );
            assert!(
                gate.contacts().is_enrolled(message.recipient()),
                "dispatch to a removed contact"
            );
            assert!(
                !gate.contacts().is_blocked(message.recipient()),
                "dispatch to a blocked contact"
            );
            assert!(!dispatched_in_request, "two dispatches in one request");
            if let VoiceCheck::Required { min_similarity } = voice_check {
                assert!(
                    matches!(voice_now, VoiceMatch::Similarity(v) if v >= min_similarity && v <= 1.0),
                    "dispatch on voice {voice_now:?} with the check at {min_similarity}"
                );
            }
            dispatched_in_request = true;
            read_back_to = None;
            window_opened = false;
        }
        // Audio is held only for a pending request, and a cancel wipes it.
        if gate.buffered_audio_samples() > 0 {
            assert!(
                gate.pending_recipient().is_some(),
                "audio held without a request"
            );
        }
        if events
            .iter()
            .any(|e| matches!(e, GateEvent::Cancelled { .. }))
        {
            assert_eq!(
                gate.buffered_audio_samples(),
                0,
                "audio kept after a cancel"
            );
        }
    }
});
