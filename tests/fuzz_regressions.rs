//! Inputs the fuzzers (`fuzz/`) found to crash, kept as tests (the way
//! hound keeps its fuzz corpus). Each is rebuilt from a file in the
//! repository and a few changed bytes, so that no large crash file is
//! committed.

use wakeguard::answer::AnswerScorer;
use wakeguard::error::{Error, ModelError};
use wakeguard::model::KeywordModel;

fn patched(path: &str, patch: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    for &(at, was, now) in patch {
        assert_eq!(
            bytes[at], was,
            "{path} changed: the patch no longer applies at {at}"
        );
        bytes[at] = now;
    }
    bytes
}

/// `fuzz/fuzz_targets/model.rs`, 2026-12-02, after 10 423 runs: one byte of
/// the bundled model changed (a length inside a node's input list) made
/// tract-onnx 0.23.9 panic in `ParsingContext::parse_graph` (a graph output
/// that names no outlet). Now found before tract parses the graph
/// (`ModelError::Load`); a panic inside tract is caught as well.
///
/// The same fuzzer, 2026-12-02, after 7 773 runs of the next hour: one letter
/// of a name changed ('e' to 'd' at byte 9 812), the same panic.
#[test]
fn model_whose_graph_output_names_no_outlet_is_a_load_error() {
    for patch in [(3_533, 24, 26), (9_812, b'e', b'd')] {
        let bytes = patched("models/wakeguard_v1.onnx", &[patch]);
        match KeywordModel::from_bytes(&bytes) {
            Err(Error::Model(ModelError::Load(why))) => {
                assert!(
                    why.contains("is not produced by any node"),
                    "{patch:?}: {why}"
                )
            }
            other => panic!("{patch:?}: expected a load error, got {other:?}"),
        }
        // The same bytes as the answer head: refused, not a panic.
        assert!(AnswerScorer::with_head(&bytes).is_err());
    }
}

/// `fuzz/fuzz_targets/model.rs`, 2026-12-02 (session 9), after 1 634 runs:
/// one byte of the bundled model changed (a constant 1 to 0 at byte 3 417,
/// a slice's step) makes tract-core 0.23.9 divide by zero while inferring
/// the shape of a `StridedSlice` (`strided_slice.rs:25`). Caught inside
/// `from_bytes` and returned as a load error.
#[test]
fn model_with_a_zero_slice_step_is_a_load_error() {
    let bytes = patched("models/wakeguard_v1.onnx", &[(3_417, 1, 0)]);
    match KeywordModel::from_bytes(&bytes) {
        Err(Error::Model(ModelError::Load(why))) => {
            assert!(why.contains("panicked"), "{why}")
        }
        other => panic!("expected a load error, got {other:?}"),
    }
    assert!(AnswerScorer::with_head(&bytes).is_err());
}
