//! The streaming API: the whole send-message flow (detector, segmenter,
//! gate, answer scorer) fed arbitrary chunk sizes and sample values,
//! including NaN and infinities as f32: results or typed errors, never a
//! panic, and with no contact enrolled never a confirmation.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wakeguard::contacts::ContactBook;
use wakeguard::detector::{Detection, Detector, DetectorConfig, DetectorSink};
use wakeguard::intent::{FlowConfig, FlowEvent, MessageFlow};
use wakeguard::model::KeywordModel;

#[derive(Arbitrary, Debug)]
enum Chunk {
    I16 {
        seed: u64,
        len: u16,
        amp: i16,
    },
    F32(Vec<f32>),
    Raw(Vec<i16>),
    ReadbackFinished,
    /// A capture overrun: samples lost before the next chunk.
    Lost(u16),
}

fn model() -> Arc<KeywordModel> {
    static M: OnceLock<Arc<KeywordModel>> = OnceLock::new();
    M.get_or_init(|| Arc::new(KeywordModel::embedded().expect("embedded model")))
        .clone()
}

struct Sink;
impl DetectorSink for Sink {
    fn detection(&mut self, d: Detection) {
        assert!(d.score.is_finite() && d.start_sample <= d.end_sample);
    }
}

fuzz_target!(|chunks: Vec<Chunk>| {
    let mut detector = Detector::new(model(), DetectorConfig::default()).unwrap();
    let mut flow = MessageFlow::new(model(), ContactBook::new(), FlowConfig::default()).unwrap();
    let mut events = Vec::new();
    for c in chunks.into_iter().take(32) {
        let pcm: Vec<i16> = match c {
            Chunk::I16 { seed, len, amp } => {
                let mut x = seed | 1;
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        ((x >> 48) as i16).saturating_mul(amp.signum()) / 2
                    })
                    .collect()
            }
            Chunk::Raw(v) => v,
            Chunk::F32(v) => {
                // f32 input: NaN or infinite rejects the chunk as a whole.
                let r = detector.push(v.as_slice(), Sink);
                if v.iter().any(|s| !s.is_finite()) {
                    assert!(r.is_err());
                }
                continue;
            }
            Chunk::Lost(n) => {
                flow.audio_lost(u64::from(n), &mut events);
                assert_eq!(flow.gate().buffered_audio_samples(), 0);
                assert_eq!(flow.gate().state(), wakeguard::gate::GateStateKind::Idle);
                continue;
            }
            Chunk::ReadbackFinished => {
                if flow.readback_finished(&mut events).is_some() {
                    panic!("dispatch at a read-back report, without an answer");
                }
                continue;
            }
        };
        let _ = detector.push(pcm.as_slice(), Sink);
        if let Ok(Some(_)) = flow.push(&pcm, &mut events) {
            // No contact is enrolled: nothing can ever be confirmed.
            panic!("dispatch with an empty contact book");
        }
    }
    let _ = detector.finish(Sink);
    assert!(!events.iter().any(|e| matches!(
        e,
        FlowEvent::Gate {
            event: wakeguard::gate::GateEvent::AnswerAccepted { .. },
            ..
        }
    )));
});
