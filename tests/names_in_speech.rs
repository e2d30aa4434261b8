//! The spoken recipient inside running speech (issue 12): a name that runs
//! straight into the message is found and read back, the message after it
//! is recorded, and a similar-sounding name that is not enrolled is refused
//! before the read-back. Recordings: `testdata/make_names.py`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wakeguard::audio::read_wav;
use wakeguard::contacts::ContactBook;
use wakeguard::features::MfccPlan;
use wakeguard::gate::{CancelReason, GateEvent, Readback};
use wakeguard::intent::{FlowConfig, FlowEvent, MessageFlow, SimulatedDevice, enroll_from_wavs};
use wakeguard::model::KeywordModel;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/names")
}

fn device() -> SimulatedDevice {
    let model = Arc::new(KeywordModel::embedded().unwrap());
    let plan = Arc::new(MfccPlan::new(model.metadata().front_end().unwrap()).unwrap());
    let config = FlowConfig::default();
    let mut book = ContactBook::new();
    for (name, files) in [
        ("Priya", &["enroll_priya_1.wav", "enroll_priya_2.wav"][..]),
        ("Jonathan", &["enroll_jonathan_1.wav"][..]),
        ("Margaret", &["enroll_margaret_1.wav"][..]),
    ] {
        let paths: Vec<PathBuf> = files.iter().map(|f| dir().join(f)).collect();
        enroll_from_wavs(&mut book, &plan, name, &paths, config.speech_rms).unwrap();
    }
    SimulatedDevice::new(MessageFlow::new(model, book, config).unwrap())
}

struct Heard {
    readback: Option<Readback>,
    /// (start, end) of the cut-out name, in samples.
    segment: Option<(u64, u64)>,
    /// Frames of the name's features where the name was heard.
    spoken_frames: Option<std::ops::Range<usize>>,
    cancels: Vec<CancelReason>,
}

fn play(file: &str, chunk: usize) -> Heard {
    let mut dev = device();
    let pcm = read_wav(dir().join(file)).unwrap().to_i16();
    let mut events = Vec::new();
    for c in pcm.chunks(chunk) {
        assert!(dev.push(c, &mut events).unwrap().is_none());
    }
    // Silence until the recording ends and the read-back is issued (no
    // answer follows, so nothing is ever dispatched).
    let mut heard = Heard {
        readback: None,
        segment: None,
        spoken_frames: None,
        cancels: Vec::new(),
    };
    for _ in 0..100 {
        assert!(dev.push(&[0; 1_600], &mut events).unwrap().is_none());
    }
    for e in events {
        match e {
            FlowEvent::NameSegment { start, end } => heard.segment = Some((start, end)),
            FlowEvent::Gate { event, .. } => match event {
                GateEvent::Readback(r) => heard.readback = Some(r),
                GateEvent::ContactMatched { spoken_frames, .. } => {
                    heard.spoken_frames = Some(spoken_frames)
                }
                GateEvent::Cancelled { reason } => heard.cancels.push(reason),
                _ => {}
            },
            _ => {}
        }
    }
    heard
}

#[test]
fn name_running_into_the_message_is_read_back_with_the_message() {
    for (file, name) in [
        ("joined_priya.wav", "Priya"),
        ("joined_margaret.wav", "Margaret"),
    ] {
        let h = play(file, 1_600);
        let r = h
            .readback
            .unwrap_or_else(|| panic!("{file}: no read-back, cancels {:?}", h.cancels));
        assert_eq!(r.recipient_name, name, "{file}");
        // No pause after the name: the cut runs on into the message, and
        // the name was heard in its first part ...
        let (s, e) = h.segment.unwrap();
        let frames = h.spoken_frames.unwrap();
        let heard_end = s + 160 * frames.end as u64;
        assert!(
            heard_end + 3_200 < e,
            "{file}: name heard up to {heard_end}, cut ends at {e}"
        );
        // ... so the message is recorded from the name's end: "I am running
        // late" / "the train is delayed" is about 1.3 s of speech, which the
        // cut alone would have swallowed.
        assert!(
            r.duration_samples >= 16_000,
            "{file}: {} samples recorded",
            r.duration_samples
        );
    }
}

#[test]
fn similar_unenrolled_name_is_refused_before_the_read_back() {
    // "Marion" against the enrolled "Margaret" (and Priya, Jonathan).
    let h = play("unenrolled_marion.wav", 1_600);
    assert!(h.readback.is_none());
    assert!(
        matches!(
            h.cancels.as_slice(),
            [CancelReason::UnknownContact { .. } | CancelReason::AmbiguousContact { .. }]
        ),
        "{:?}",
        h.cancels
    );
}

#[test]
fn name_and_message_do_not_depend_on_chunk_size() {
    let reference = play("joined_priya.wav", 1_600);
    let r0 = reference.readback.unwrap();
    for chunk in [160, 999, 4_000] {
        let h = play("joined_priya.wav", chunk);
        let r = h.readback.unwrap();
        assert_eq!(r.recipient_name, r0.recipient_name, "chunk {chunk}");
        assert_eq!(r.duration_samples, r0.duration_samples, "chunk {chunk}");
        assert_eq!(h.segment, reference.segment, "chunk {chunk}");
    }
}
