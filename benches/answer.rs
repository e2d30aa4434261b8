//! Cost of the second-stage answer scorer, once per read-back.
//!
//! `cargo bench --bench answer`. The answer is the "yes" of a bundled
//! request (`testdata/flows/m/yes.wav`, from 9 s on: the flow hands the
//! scorer the answer and 0.3 s around it), and a long answer that fills the
//! scorer's whole window (all 22 embedding windows, the most one call
//! costs). The scorer runs only after a read-back, never on the always-on
//! stream; `benches/detector.rs` measures that.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wakeguard::answer::{AnswerScorer, MAX_CUT, n_windows, speech_cut};
use wakeguard::audio::read_wav;

fn bench(c: &mut Criterion) {
    let flow = read_wav(format!(
        "{}/testdata/flows/m/yes.wav",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .to_i16();
    let answer = &flow[144_000..];
    let cut = speech_cut(answer).unwrap();
    eprintln!(
        "yes answer: cut {:.2} s, {} embedding windows",
        cut.len() as f64 / 16e3,
        n_windows(cut.len())
    );
    let mut long = Vec::new();
    while long.len() < MAX_CUT + 16_000 {
        long.extend_from_slice(&answer[cut.clone()]);
    }
    let mut scorer = AnswerScorer::embedded().unwrap();
    c.bench_function("answer/score_yes", |b| {
        b.iter(|| black_box(scorer.score(black_box(answer)).unwrap()))
    });
    c.bench_function("answer/score_longest", |b| {
        b.iter(|| black_box(scorer.score(black_box(&long)).unwrap()))
    });
    c.bench_function("answer/load_embedded", |b| {
        b.iter(|| black_box(AnswerScorer::embedded().unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
