//! MFCC front-end cost: per 10 ms frame and per second of audio.
//!
//! `cargo bench --bench mfcc`. Real-time factor = 10 ms / (time per frame),
//! or 1 s / (time per second of audio).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

fn speechlike(n: usize) -> Vec<i16> {
    // Deterministic: harmonic tone with a slow amplitude envelope plus LCG noise.
    let mut state = 12345u32;
    (0..n)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((state >> 16) as f32 / 65536.0 - 0.5) * 600.0;
            let t = i as f32 / 16_000.0;
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            let tone: f32 = (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            (tone * env * 6000.0 + noise) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let second = speechlike(16_000);
    for (name, config) in [
        ("wakeguard_v1", MfccConfig::wakeguard_v1()),
        ("kaldi", MfccConfig::kaldi()),
    ] {
        let plan = Arc::new(MfccPlan::new(config).unwrap());
        let mut group = c.benchmark_group(format!("mfcc/{name}"));

        // One hop of new audio completes exactly one frame on a primed stream.
        let mut stream = MfccStream::new(plan.clone(), 100).unwrap();
        stream
            .push(&second[..plan.frame_len() - plan.hop_len()])
            .unwrap();
        let hop = &second[..plan.hop_len()];
        group.throughput(Throughput::Elements(1));
        group.bench_function("per_frame", |b| {
            b.iter(|| black_box(stream.push(black_box(hop)).unwrap()))
        });

        // One second of audio (16,000 samples, 98-100 frames) in 10 ms chunks.
        let mut stream = MfccStream::new(plan.clone(), 100).unwrap();
        group.throughput(Throughput::Elements(16_000));
        group.bench_function("per_second_of_audio", |b| {
            b.iter(|| {
                for chunk in second.chunks(160) {
                    black_box(stream.push(black_box(chunk)).unwrap());
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
