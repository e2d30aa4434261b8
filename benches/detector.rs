//! Whole-pipeline cost (front end + network + smoothing + tracking) per
//! second of audio, with the embedded model, or with the model file named by
//! the environment variable `WAKEGUARD_BENCH_MODEL`.
//!
//! `cargo bench --bench detector`. Real-time factor = 1 s / (time per second of audio).
//! `WAKEGUARD_BENCH_MODEL=my.onnx cargo bench --bench detector` measures another model.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wakeguard::detector::{Detector, DetectorConfig};
use wakeguard::model::KeywordModel;

fn noise_and_tones(n: usize) -> Vec<i16> {
    let mut state = 99u32;
    (0..n)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((state >> 16) as f32 / 65536.0 - 0.5) * 2000.0;
            let t = i as f32 / 16_000.0;
            ((2.0 * std::f32::consts::PI * 220.0 * t).sin() * 3000.0 + noise) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let model = match std::env::var_os("WAKEGUARD_BENCH_MODEL") {
        Some(path) => {
            eprintln!("detector bench: model {}", path.to_string_lossy());
            KeywordModel::from_path(&path).unwrap()
        }
        None => KeywordModel::embedded().unwrap(),
    };
    let model = Arc::new(model);
    let second = noise_and_tones(16_000);
    let mut detector = Detector::new(model.clone(), DetectorConfig::default()).unwrap();
    let mut group = c.benchmark_group("detector");
    group.throughput(Throughput::Elements(16_000));
    group.bench_function("per_second_of_audio", |b| {
        b.iter(|| {
            let mut events = 0;
            for chunk in second.chunks(160) {
                events += detector.push(black_box(chunk), |_| {}).unwrap();
            }
            black_box(events)
        })
    });
    // The network alone: one call on `chunk_frames` frames.
    let mut state = model.new_state().unwrap();
    let feats = vec![0.1f32; model.chunk_frames() * model.n_features()];
    let mut probs = vec![0.0f32; model.chunk_frames() * model.n_labels()];
    group.throughput(Throughput::Elements(model.chunk_frames() as u64));
    group.bench_function("model_chunk", |b| {
        b.iter(|| {
            model
                .run_chunk(&mut state, black_box(&feats), &mut probs)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
