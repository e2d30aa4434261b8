//! The detector end to end with the embedded model: metadata checks,
//! detections on known clips, chunking invariance, error cases.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use wakeguard::audio::read_wav;
use wakeguard::detector::{Detection, Detector, DetectorConfig};
use wakeguard::features::MfccConfig;
use wakeguard::model::{EMBEDDED_MODEL, KeywordModel};
use wakeguard::{ConfigError, Error, ModelError};

const LABELS: [&str; 11] = [
    "background",
    "alexa",
    "computer",
    "jarvis",
    "smart_mirror",
    "snowboy",
    "view_glass",
    "send_message",
    "yes",
    "no",
    "cancel",
];

fn clip(name: &str) -> Vec<f32> {
    read_wav(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name),
    )
    .unwrap()
    .samples
}

fn model() -> Arc<KeywordModel> {
    Arc::new(KeywordModel::embedded().unwrap())
}

fn detect_all(model: &Arc<KeywordModel>, pcm: &[f32], chunks: &[usize]) -> Vec<Detection> {
    let mut d = Detector::new(model.clone(), DetectorConfig::default()).unwrap();
    let mut out = Vec::new();
    let mut rest = pcm;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).clamp(1, rest.len());
        d.push(&rest[..n], |e| out.push(e)).unwrap();
        rest = &rest[n..];
    }
    d.finish(|e| out.push(e)).unwrap();
    out
}

#[test]
fn embedded_model_metadata() {
    let m = model();
    let meta = m.metadata();
    assert_eq!(meta.labels, LABELS);
    assert_eq!(meta.features.preset, "wakeguard_v1");
    meta.check_front_end(&MfccConfig::wakeguard_v1()).unwrap();
    for label in &LABELS[1..] {
        let t = meta.thresholds[*label];
        assert!(t > 0.0 && t <= 1.0, "{label}: {t}");
    }
    assert!(meta.parameters > 1_000 && meta.parameters < 250_000);
    assert!(EMBEDDED_MODEL.len() < 1_000_000);
}

#[test]
fn known_positive_is_detected() {
    let m = model();
    let found = detect_all(&m, &clip("clips/computer.wav"), &[1600]);
    let hits: Vec<_> = found.iter().filter(|d| &*d.label == "computer").collect();
    assert_eq!(hits.len(), 1, "{found:?}");
    let d = hits[0];
    // The word is spoken between 0.6 s and about 1.3 s; the event fires at its end.
    let end = d.end_sample as f64 / 16_000.0;
    assert!((0.9..=1.8).contains(&end), "end {end}");
    assert!(d.start_sample < d.end_sample && d.end_sample <= d.reported_sample);
    assert!(d.score >= m.metadata().thresholds["computer"]);
    let others: Vec<_> = found.iter().filter(|d| &*d.label != "computer").collect();
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn known_negative_is_not_detected() {
    let found = detect_all(&model(), &clip("clips/chatter.wav"), &[1600]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn disabled_label_is_not_reported_and_low_threshold_lists_candidates() {
    let m = model();
    let pcm = clip("clips/computer.wav");
    let mut d = Detector::new(m.clone(), DetectorConfig::default()).unwrap();
    d.set_active("computer", false).unwrap();
    let mut out = Vec::new();
    d.push(&pcm, |e| out.push(e)).unwrap();
    d.finish(|e| out.push(e)).unwrap();
    assert!(out.iter().all(|e| &*e.label != "computer"), "{out:?}");

    let mut d = Detector::new(m, DetectorConfig::default()).unwrap();
    d.set_all_thresholds(0.01).unwrap();
    let mut low = Vec::new();
    d.push(&pcm, |e| low.push(e)).unwrap();
    d.finish(|e| low.push(e)).unwrap();
    assert!(low.iter().any(|e| &*e.label == "computer"));
}

/// Detections do not depend on how the audio is cut into pushes.
#[test]
fn detections_are_chunking_invariant() {
    let m = model();
    let pcm = clip("demo.wav");
    let reference = detect_all(&m, &pcm, &[16_000]);
    assert!(!reference.is_empty());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 12,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    runner
        .run(&prop::collection::vec(1usize..5000, 1..8), |chunks| {
            let got = detect_all(&m, &pcm, &chunks);
            prop_assert_eq!(got.len(), reference.len());
            for (a, b) in got.iter().zip(&reference) {
                prop_assert_eq!(&a.label, &b.label);
                prop_assert_eq!(a.end_sample, b.end_sample);
                prop_assert_eq!(a.reported_sample, b.reported_sample);
                // Same samples through the same code: identical, not merely close.
                prop_assert_eq!(a.score.to_bits(), b.score.to_bits());
            }
            Ok(())
        })
        .unwrap();
}

fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present in the embedded model");
    let mut out = bytes.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

#[test]
fn malformed_models_are_typed_errors() {
    // Not ONNX at all, and truncated ONNX.
    assert!(matches!(
        KeywordModel::from_bytes(b"hello"),
        Err(Error::Model(_))
    ));
    let half = &EMBEDDED_MODEL[..EMBEDDED_MODEL.len() / 2];
    assert!(matches!(
        KeywordModel::from_bytes(half),
        Err(Error::Model(_))
    ));
    // Metadata key renamed: the model is refused, not guessed.
    let no_meta = replace_once(EMBEDDED_MODEL, b"\x0a\x09wakeguard", b"\x0a\x09wakeguarX");
    assert!(matches!(
        KeywordModel::from_bytes(&no_meta),
        Err(Error::Model(ModelError::MissingMetadata))
    ));
    // Labels that do not start with background.
    let bad_labels = replace_once(EMBEDDED_MODEL, b"[\"background\"", b"[\"backgrounX\"");
    assert!(matches!(
        KeywordModel::from_bytes(&bad_labels),
        Err(Error::Model(ModelError::BadMetadata(_)))
    ));
    // A model that claims another front end: loads (its graph is fine) but no
    // detector will run it on the wrong features.
    let other_fe = replace_once(EMBEDDED_MODEL, b"\"n_mels\": 40", b"\"n_mels\": 41");
    let m = KeywordModel::from_bytes(&other_fe).unwrap();
    assert!(matches!(
        Detector::new(Arc::new(m), DetectorConfig::default()),
        Err(Error::Model(ModelError::FrontEndMismatch {
            field: "n_mels",
            ..
        }))
    ));
    // State shapes that disagree with the graph.
    let wrong_state = replace_once(EMBEDDED_MODEL, b"[[1, 20, 2]", b"[[1, 21, 2]");
    assert!(matches!(
        KeywordModel::from_bytes(&wrong_state),
        Err(Error::Model(_))
    ));
}

#[test]
fn bad_input_is_refused_without_detection() {
    let mut d = Detector::with_default_model().unwrap();
    assert!(matches!(
        d.set_threshold("hey_siri", 0.5),
        Err(Error::Model(ModelError::UnknownLabel(_)))
    ));
    assert!(d.set_threshold("background", 0.5).is_err());
    assert!(d.set_threshold("computer", 0.0).is_err());
    assert!(d.set_threshold("computer", f32::NAN).is_err());
    assert!(d.set_threshold("computer", 1.5).is_err());
    let mut events = 0;
    let mut pcm = clip("clips/computer.wav");
    pcm[10_000] = f32::NAN;
    assert!(matches!(
        d.push(&pcm, |_| events += 1),
        Err(Error::NonFiniteSample { index: 10_000 })
    ));
    assert_eq!(events, 0);
    d.finish(|_| events += 1).unwrap();
    assert_eq!(events, 0);
    assert!(matches!(d.push(&[0i16; 10], |_| {}), Err(Error::Finished)));
    d.reset().unwrap();
    d.push(&[0i16; 10], |_| {}).unwrap();
}

#[test]
fn zero_smoothing_or_event_length_is_a_typed_config_error() {
    for (config, field) in [
        (
            DetectorConfig {
                smoothing_frames: 0,
                ..DetectorConfig::default()
            },
            "smoothing_frames",
        ),
        (
            DetectorConfig {
                max_event_frames: 0,
                ..DetectorConfig::default()
            },
            "max_event_frames",
        ),
    ] {
        let err = Detector::new(model(), config).err().unwrap();
        assert!(
            matches!(err, Error::Config(ConfigError::NotPositive { field: f }) if f == field),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("invalid configuration: `{field}` must be positive")
        );
    }
}
