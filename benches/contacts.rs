//! Cost of matching one spoken name against a book of 20 contacts.
//!
//! `cargo bench --bench contacts`. Each contact has 3 enrollments, the
//! name recordings of `testdata/flows/` (0.4-0.8 s each, cycled); the
//! spoken segment is the longest the flow cuts out (`FlowConfig::max_name`,
//! 1.5 s) from a bundled request, starting at the name. The issue-12 budget
//! is 5 ms per request on one core.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use wakeguard::audio::read_wav;
use wakeguard::contacts::ContactBook;
use wakeguard::features::{MfccConfig, MfccPlan};
use wakeguard::intent::{FlowConfig, name_features};

fn pcm(path: &str) -> Vec<i16> {
    read_wav(format!(
        "{}/testdata/flows/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .to_i16()
}

fn bench(c: &mut Criterion) {
    let plan = Arc::new(MfccPlan::new(MfccConfig::wakeguard_v1()).unwrap());
    let rms = FlowConfig::default().speech_rms;
    let mut enrollments = Vec::new();
    for voice in ["m", "f", "k"] {
        for name in ["alice", "oliver", "margaret"] {
            for k in 1..=2 {
                let audio = pcm(&format!("{voice}/enroll_{name}_{k}.wav"));
                enrollments.push(name_features(&plan, &audio, rms).unwrap());
            }
        }
    }
    let mut book = ContactBook::new();
    for i in 0..20 {
        let e = (0..3)
            .map(|k| enrollments[(i * 3 + k) % enrollments.len()].clone())
            .collect();
        book.add(&format!("contact {i}"), e).unwrap();
    }
    // "... to Alice. Home at six ..." in the m voice: 1.5 s from the name on.
    let request = pcm("m/yes.wav");
    let start = 3 * 16_000 - 4_000;
    let spoken = name_features(&plan, &request[start..start + 24_000], rms).unwrap();
    assert!(spoken.frames() > 140, "{}", spoken.frames());

    c.bench_function("contacts/match_20_contacts_x3_enrollments_1.5s", |b| {
        b.iter(|| black_box(book.match_spoken(black_box(&spoken)).unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
