//! The contact book: arbitrary feature sequences (any dimension, NaN and
//! infinities), names, and add / remove / block / unblock / match in any
//! order give results or typed errors, never a panic; a match never names
//! a removed contact and its scores are in [0, 1].
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wakeguard::contacts::{ContactBook, ContactId, FeatureSeq};

#[derive(Arbitrary, Debug)]
enum Op {
    Add {
        name: String,
        dim: u8,
        seqs: Vec<Vec<f32>>,
    },
    Remove(u8),
    Block(u8),
    Unblock(u8),
    Match {
        dim: u8,
        values: Vec<f32>,
    },
}

fn seq(dim: u8, values: &[f32]) -> Option<FeatureSeq> {
    FeatureSeq::new(usize::from(dim), values.to_vec()).ok()
}

fuzz_target!(|ops: Vec<Op>| {
    let mut book = ContactBook::new();
    let mut ids: Vec<ContactId> = Vec::new();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Add { name, dim, seqs } => {
                let seqs: Vec<FeatureSeq> = seqs
                    .iter()
                    .take(8)
                    .filter_map(|v| seq(dim, &v[..v.len().min(4096)]))
                    .collect();
                if let Ok(id) = book.add(&name, seqs) {
                    ids.push(id);
                }
            }
            Op::Remove(i) => {
                if let Some(&id) = ids.get(usize::from(i) % ids.len().max(1)) {
                    let _ = book.remove(id);
                }
            }
            Op::Block(i) => {
                if let Some(&id) = ids.get(usize::from(i) % ids.len().max(1)) {
                    let _ = book.block(id);
                }
            }
            Op::Unblock(i) => {
                if let Some(&id) = ids.get(usize::from(i) % ids.len().max(1)) {
                    let _ = book.unblock(id);
                }
            }
            Op::Match { dim, values } => {
                if let Some(spoken) = seq(dim, &values[..values.len().min(4096)]) {
                    if let Ok(m) = book.match_spoken(&spoken) {
                        // The matcher may name a blocked contact (the gate
                        // refuses it); never a removed one, and scores are
                        // always in [0, 1].
                        assert!(book.is_enrolled(m.best), "removed contact matched");
                        assert!((0.0..=1.0).contains(&m.score), "score {}", m.score);
                        if let Some((r, s)) = m.runner_up {
                            assert!(book.is_enrolled(r) && r != m.best);
                            assert!((0.0..=1.0).contains(&s) && s <= m.score);
                        }
                    }
                }
            }
        }
    }
});
