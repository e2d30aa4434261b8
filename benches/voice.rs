//! Cost of the voice check (issue 18), twice per request when it is on.
//!
//! `cargo bench --bench voice`. The request is `MAX_PIECES * MAX_CUT` (3.8 s)
//! of a bundled request, `testdata/flows/m/yes.wav` from 0.9 s to 4.7 s, as
//! much as the flow hands the voice model (two mel spectrograms); the
//! answer its "yes" (from 9 s on, one spectrogram); and the similarity of
//! the two vectors. None of it runs on the always-on
//! stream; `benches/detector.rs` measures that.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wakeguard::audio::read_wav;
use wakeguard::voice::{MAX_CUT, MAX_PIECES, VoiceModel};

fn bench(c: &mut Criterion) {
    let flow = read_wav(format!(
        "{}/testdata/flows/m/yes.wav",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .to_i16();
    let name_end = 75_200;
    let request = &flow[name_end - MAX_PIECES * MAX_CUT..name_end];
    let answer = &flow[144_000..];
    let mut model = VoiceModel::shared_embedded().unwrap();
    let r = model.voice(request).unwrap().unwrap();
    let a = model.voice(answer).unwrap().unwrap();
    eprintln!(
        "similarity of the request and its answer: {:.3}",
        r.similarity(&a)
    );
    c.bench_function("voice/request_3.8s", |b| {
        b.iter(|| black_box(model.voice(black_box(request)).unwrap()))
    });
    c.bench_function("voice/answer", |b| {
        b.iter(|| black_box(model.voice(black_box(answer)).unwrap()))
    });
    c.bench_function("voice/similarity", |b| {
        b.iter(|| black_box(black_box(&r).similarity(black_box(&a))))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
