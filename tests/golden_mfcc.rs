//! Golden test: the crate's MFCC against two independent references made by
//! `testdata/make_golden.py`:
//! - kaldi-native-fbank, a C++ port of Kaldi `compute-mfcc-feats` that, like
//!   Kaldi, computes in float32. Its own round-off reaches 3.4e-3 on these
//!   clips (measured against the float64 reference), so the tolerance
//!   against it is 5e-3.
//! - a float64 numpy implementation of the same algorithm: tolerance 1e-3
//!   (measured: under 1e-4).

use std::path::Path;
use std::sync::Arc;

use wakeguard::audio::read_wav;
use wakeguard::features::{MfccConfig, MfccPlan, mfcc};

/// Max absolute difference on any coefficient against the float64 reference.
const TOL_F64: f32 = 1e-3;
/// Max absolute difference against kaldi-native-fbank (float32 arithmetic).
const TOL_KNF: f32 = 5e-3;

fn load_csv(path: &Path) -> Vec<Vec<f32>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

fn check(clip: &str, preset: &str, reference: &str, tolerance: f32, config: MfccConfig) -> f32 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden");
    let audio = read_wav(dir.join(format!("{clip}.wav"))).unwrap();
    let want = load_csv(&dir.join(format!("{clip}.{preset}.{reference}.csv")));
    let plan = Arc::new(MfccPlan::new(config).unwrap());
    let got = mfcc(&plan, &audio.samples).unwrap();
    assert_eq!(got.frames(), want.len(), "{clip} {preset}: frame count");
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.rows().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len());
        for (k, (a, b)) in g.iter().zip(w).enumerate() {
            let d = (a - b).abs();
            assert!(
                d < tolerance,
                "{clip} {preset}: frame {i} coefficient {k}: ours {a}, {reference} {b}"
            );
            worst = worst.max(d);
        }
    }
    worst
}

const CLIPS: [&str; 3] = ["speech_en_us", "speech_en_f", "synthetic"];

#[test]
fn kaldi_preset_matches_references() {
    for clip in CLIPS {
        let f64_diff = check(clip, "kaldi", "f64", TOL_F64, MfccConfig::kaldi());
        let knf_diff = check(clip, "kaldi", "knf", TOL_KNF, MfccConfig::kaldi());
        eprintln!("{clip} kaldi: max abs diff {f64_diff:.2e} (float64), {knf_diff:.2e} (knf)");
    }
}

#[test]
fn model_preset_matches_references() {
    let cfg = MfccConfig::wakeguard_v1;
    for clip in CLIPS {
        let f64_diff = check(clip, "wakeguard_v1", "f64", TOL_F64, cfg());
        let knf_diff = check(clip, "wakeguard_v1", "knf", TOL_KNF, cfg());
        eprintln!(
            "{clip} wakeguard_v1: max abs diff {f64_diff:.2e} (float64), {knf_diff:.2e} (knf)"
        );
    }
}
