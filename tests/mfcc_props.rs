//! Property tests of the MFCC front end (seeded, deterministic).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use wakeguard::features::{FeatureRing, MfccConfig, MfccPlan, MfccStream, Window, mfcc};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

fn audio_strategy() -> impl Strategy<Value = Vec<i16>> {
    prop::collection::vec(any::<i16>(), 0..4000)
}

fn features_chunked(plan: &Arc<MfccPlan>, pcm: &[i16], cuts: &[usize]) -> Vec<f32> {
    let mut stream = MfccStream::new(Arc::clone(plan), 3).unwrap();
    let mut out = Vec::new();
    let mut rest = pcm;
    let mut cuts = cuts.iter().cycle();
    while !rest.is_empty() {
        let n = (*cuts.next().unwrap()).min(rest.len());
        stream
            .push_with(&rest[..n], |_, f| out.extend_from_slice(f))
            .unwrap();
        rest = &rest[n..];
    }
    out
}

/// Features do not depend on how the input is cut into chunks. The
/// computation per frame is the same code on the same samples, so the
/// results must be bit-identical, not merely close.
#[test]
fn chunking_invariance() {
    let plan = Arc::new(MfccPlan::new(MfccConfig::wakeguard_v1()).unwrap());
    runner(128)
        .run(
            &(audio_strategy(), prop::collection::vec(1usize..700, 1..20)),
            |(pcm, cuts)| {
                let whole = mfcc(&plan, &pcm).unwrap().data;
                let chunked = features_chunked(&plan, &pcm, &cuts);
                prop_assert_eq!(whole.len(), chunked.len());
                for (a, b) in whole.iter().zip(&chunked) {
                    prop_assert_eq!(a.to_bits(), b.to_bits());
                }
                Ok(())
            },
        )
        .unwrap();
}

fn config_strategy() -> impl Strategy<Value = MfccConfig> {
    (
        prop::sample::select(vec![8_000u32, 16_000, 22_050, 44_100, 48_000]),
        5.0f32..40.0,
        1.0f32..40.0,
        prop::sample::select(vec![
            Window::Povey,
            Window::Hann,
            Window::Hamming,
            Window::Rectangular,
        ]),
        0.0f32..1.0,
        any::<bool>(),
        1usize..64,
        1usize..30,
        (0.0f32..500.0, -1000.0f32..9000.0),
        0.0f32..40.0,
        (0.0f32..2.0, any::<u64>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                sr,
                flen,
                fshift,
                window,
                pre,
                dc,
                n_mels,
                n_mfcc,
                (lo, hi),
                lifter,
                (dither, seed, energy, raw),
            )| {
                MfccConfig {
                    sample_rate: sr,
                    frame_length_ms: flen,
                    frame_shift_ms: fshift,
                    window,
                    preemphasis: pre,
                    remove_dc_offset: dc,
                    n_mels,
                    n_mfcc,
                    low_freq: lo,
                    high_freq: hi,
                    cepstral_lifter: lifter,
                    dither,
                    dither_seed: seed,
                    use_energy: energy,
                    raw_energy: raw,
                    ..MfccConfig::kaldi()
                }
            },
        )
}

/// Any config either fails validation with an error or, once valid, turns
/// any finite input (including extreme f32 values) into finite features
/// without panicking.
#[test]
fn valid_configs_never_panic_and_stay_finite() {
    let accepted = std::cell::Cell::new(0u32);
    runner(256)
        .run(
            &(
                config_strategy(),
                prop::collection::vec(
                    prop_oneof![
                        -1.0f32..1.0,
                        Just(0.0f32),
                        Just(f32::MAX),
                        Just(f32::MIN),
                        Just(1e-30f32)
                    ],
                    0..3000,
                ),
            ),
            |(config, pcm)| {
                let Ok(plan) = MfccPlan::new(config) else {
                    return Ok(());
                };
                accepted.set(accepted.get() + 1);
                let plan = Arc::new(plan);
                let mut stream = MfccStream::new(plan.clone(), 5).unwrap();
                let mut frames = 0;
                stream
                    .push_with(&pcm, |_, f| {
                        frames += 1;
                        assert!(f.iter().all(|v| v.is_finite()), "non-finite feature");
                    })
                    .unwrap();
                prop_assert_eq!(frames, plan.frames_for(pcm.len()));
                Ok(())
            },
        )
        .unwrap();
    // The strategy must exercise valid configs, not only rejections.
    assert!(
        accepted.get() > 50,
        "only {} valid configs generated",
        accepted.get()
    );
}

/// The ring returns exactly the last N frames pushed, in order.
#[test]
fn ring_returns_last_frames_in_order() {
    runner(256)
        .run(&(1usize..6, 1usize..20, 0usize..100), |(dim, cap, n)| {
            let mut ring = FeatureRing::new(dim, cap).unwrap();
            let frames: Vec<Vec<f32>> = (0..n)
                .map(|i| (0..dim).map(|j| (i * 100 + j) as f32).collect())
                .collect();
            for f in &frames {
                ring.push(f).unwrap();
            }
            let expect: Vec<f32> = frames[n.saturating_sub(cap)..].concat();
            prop_assert_eq!(ring.window(), &expect[..]);
            prop_assert_eq!(ring.len(), n.min(cap));
            let k = cap / 2 + 1;
            let expect_k: Vec<f32> = frames[n.saturating_sub(k.min(cap))..].concat();
            prop_assert_eq!(ring.latest(k), &expect_k[..]);
            Ok(())
        })
        .unwrap();
}

/// The ring inside a stream holds the same frames the callback saw.
#[test]
fn stream_ring_matches_callback() {
    let plan = Arc::new(MfccPlan::new(MfccConfig::kaldi()).unwrap());
    runner(64)
        .run(&audio_strategy(), |pcm| {
            let mut stream = MfccStream::new(plan.clone(), 4).unwrap();
            let mut all = Vec::new();
            stream
                .push_with(&pcm, |_, f| all.extend_from_slice(f))
                .unwrap();
            let dim = plan.n_features();
            let held = (all.len() / dim).min(4);
            prop_assert_eq!(stream.ring().window(), &all[all.len() - held * dim..]);
            Ok(())
        })
        .unwrap();
}
