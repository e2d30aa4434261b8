//! The voice model (`wakeguard::voice`, issue 18).
//!
//! Golden test: `testdata/golden/voice_golden.json`, made by
//! `testdata/make_voice_golden.py` from `models/train/voice_head.py` (the
//! specification) run with onnxruntime. Features must agree with tract's
//! to 1e-3 (relative, absolute below 1), voice vectors to 2e-3, and the
//! similarities of every pair to 2e-3. Rerun the script when
//! `models/voice_head.onnx` is retrained.
//!
//! Also: no voice for silence, an empty or too-short slice; a long
//! recording is read only up to two pieces; the chunk of audio after the
//! pieces does not change the voice; malformed models are errors.

use std::path::Path;

use serde::Deserialize;
use wakeguard::answer::EMBEDDED_MEL;
use wakeguard::audio::read_wav;
use wakeguard::voice::{
    EMBEDDED_VOICE_HEAD, MAX_CUT, MAX_PIECES, N_FEATURES, PAD, VOICE_DIM, VoiceModel,
};
use wakeguard::{Error, ModelError};

const TOL_FEATURE: f32 = 1e-3;
const TOL_VOICE: f32 = 2e-3;

#[derive(Deserialize)]
struct Golden {
    clips: Vec<Clip>,
    similarities: std::collections::BTreeMap<String, f32>,
}

#[derive(Deserialize)]
struct Clip {
    name: String,
    file: Option<String>,
    start: Option<usize>,
    zeros: Option<usize>,
    features: Option<Vec<f32>>,
    voice: Option<Vec<f32>>,
}

fn golden() -> Golden {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/voice_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pcm_of(clip: &Clip) -> Vec<i16> {
    match &clip.file {
        Some(file) => {
            let audio = read_wav(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
            audio.to_i16()[clip.start.unwrap_or(0)..].to_vec()
        }
        None => vec![0; clip.zeros.unwrap()],
    }
}

#[test]
fn golden_features_voices_and_similarities() {
    let g = golden();
    assert!(g.clips.len() >= 5);
    let mut model = VoiceModel::shared_embedded().unwrap();
    let mut voices = std::collections::BTreeMap::new();
    for clip in &g.clips {
        let pcm = pcm_of(clip);
        let name = &clip.name;
        let features = model.features(&pcm).unwrap();
        let voice = model.voice(&pcm).unwrap();
        let none = (features.is_none(), voice.is_none());
        let (Some(f), Some(v)) = (features, voice) else {
            assert_eq!(none, (true, true), "{name}");
            assert!(clip.features.is_none() && clip.voice.is_none(), "{name}");
            continue;
        };
        let want = clip.features.as_ref().unwrap();
        assert_eq!(want.len(), N_FEATURES);
        for (k, (a, b)) in f.iter().zip(want).enumerate() {
            let d = (a - b).abs() / b.abs().max(1.0);
            assert!(
                d <= TOL_FEATURE,
                "{name}: feature {k}: ours {a}, reference {b}"
            );
        }
        let want = clip.voice.as_ref().unwrap();
        assert_eq!(want.len(), VOICE_DIM);
        for (k, (a, b)) in v.values().iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= TOL_VOICE,
                "{name}: voice {k}: ours {a}, reference {b}"
            );
        }
        let norm: f32 = v.values().iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{name}: length {norm}");
        assert!((v.similarity(&v) - 1.0).abs() < 1e-4);
        voices.insert(name.clone(), v);
    }
    assert!(g.similarities.len() >= 6);
    for (pair, want) in &g.similarities {
        let (a, b) = pair.split_once('|').unwrap();
        let s = voices[a].similarity(&voices[b]);
        assert!(
            (s - want).abs() <= TOL_VOICE,
            "{pair}: ours {s}, reference {want}"
        );
        assert!((s - voices[b].similarity(&voices[a])).abs() < 1e-6);
    }
    // The request and the answer of the same voice are more alike than the
    // request and the other voice's answer (as the reference says).
    let m = g.similarities["answer_m|request"];
    let f = g.similarities["answer_f|request"];
    assert!(m > f + 0.2, "{m} vs {f}");
}

#[test]
fn no_voice_without_speech() {
    let mut model = VoiceModel::shared_embedded().unwrap();
    assert!(model.voice(&[]).unwrap().is_none());
    assert!(model.voice(&[1000; 159]).unwrap().is_none());
    assert!(model.voice(&[0; 16_000]).unwrap().is_none());
    assert!(model.voice(&[19; 16_000]).unwrap().is_none());
    assert!(model.features(&[0; 48_000]).unwrap().is_none());
}

#[test]
fn only_two_pieces_of_speech_are_read() {
    let g = golden();
    let request = g.clips.iter().find(|c| c.name == "request").unwrap();
    let pcm = pcm_of(request);
    let mut model = VoiceModel::shared_embedded().unwrap();
    let whole = model.features(&pcm).unwrap().unwrap();
    // The request's speech runs longer than MAX_PIECES pieces: what follows
    // it (itself again, or ten minutes of silence) is never read.
    assert!(pcm.len() > MAX_PIECES * MAX_CUT + 2 * PAD);
    let twice: Vec<i16> = pcm.iter().chain(&pcm).copied().collect();
    let mut long = pcm.clone();
    long.extend(std::iter::repeat_n(0, 16_000 * 600));
    for other in [&twice, &long] {
        let f = model.features(other).unwrap().unwrap();
        for (k, (a, b)) in whole.iter().zip(&f).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                "feature {k}: {a} vs {b}"
            );
        }
    }
    // ... but the second piece is: the first 3 s alone give other features.
    let short = model.features(&pcm[..48_000]).unwrap().unwrap();
    let diff: f32 = whole.iter().zip(&short).map(|(a, b)| (a - b).abs()).sum();
    assert!(diff > 0.1, "{diff}");
}

#[test]
fn malformed_models_are_errors() {
    let bad = [&b""[..], b"not onnx", &EMBEDDED_VOICE_HEAD[..100]];
    for head in bad {
        let e = VoiceModel::from_bytes(EMBEDDED_MEL, head).unwrap_err();
        assert!(matches!(e, Error::Model(_)), "{e}");
    }
    // The models swapped: shapes refused.
    let e = VoiceModel::from_bytes(EMBEDDED_VOICE_HEAD, EMBEDDED_MEL).unwrap_err();
    assert!(
        matches!(e, Error::Model(ModelError::Shape(_) | ModelError::Load(_))),
        "{e}"
    );
    // The answer head has the wrong input width for a voice head.
    let e = VoiceModel::from_bytes(EMBEDDED_MEL, wakeguard::answer::EMBEDDED_HEAD).unwrap_err();
    assert!(matches!(e, Error::Model(_)), "{e}");
    // The right ones load.
    let mut m = VoiceModel::from_bytes(EMBEDDED_MEL, EMBEDDED_VOICE_HEAD).unwrap();
    let mut c = m.try_clone().unwrap();
    let pcm = pcm_of(&golden().clips[1]);
    assert_eq!(m.voice(&pcm).unwrap(), c.voice(&pcm).unwrap());
}

#[test]
fn a_voice_print_does_not_print_its_values() {
    let mut model = VoiceModel::shared_embedded().unwrap();
    let v = model.voice(&pcm_of(&golden().clips[1])).unwrap().unwrap();
    assert_eq!(format!("{v:?}"), "VoicePrint(..)");
}

/// A harmonic tone at `f0` Hz (five harmonics), 1 s, loud.
fn tone(f0: f64) -> Vec<i16> {
    (0..16_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            let v: f64 = (1..=5)
                .map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64)
                .sum();
            (v * 6_000.0) as i16
        })
        .collect()
}

#[test]
fn pitch_features_follow_the_fundamental() {
    let mut model = VoiceModel::shared_embedded().unwrap();
    for f0 in [110.0, 200.0, 310.0] {
        let f = model.features(&tone(f0)).unwrap().unwrap();
        let [median, spread, voiced] = [f[64], f[65], f[66]];
        // The lag is an integer number of samples: within one lag step.
        assert!(
            (f64::from(median).exp() - f0).abs() < f0 * f0 / 16_000.0 + 1.0,
            "{f0} Hz: median F0 {}",
            f64::from(median).exp()
        );
        assert!(spread.abs() < 0.02, "{f0} Hz: spread {spread}");
        assert!(voiced > 0.9, "{f0} Hz: voiced share {voiced}");
    }
    // Noise is not voiced: the fallback values.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<i16> = (0..16_000)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 48) as i64 - 32_768) as i16 / 4
        })
        .collect();
    let f = model.features(&noise).unwrap().unwrap();
    assert!((f64::from(f[64]) - 150f64.ln()).abs() < 1e-5, "{}", f[64]);
    assert_eq!([f[65], f[66]], [0.0, 0.0]);
}
