//! The second-stage answer scorer (`wakeguard::answer`).
//!
//! Golden test: `testdata/golden/answer_golden.json`, made by
//! `testdata/make_answer_golden.py` from `models/train/answer_features.py`
//! (the specification) run with onnxruntime. The features must agree with
//! tract's to 1e-3 (relative to the value, absolute below 1); the cut length
//! and the number of windows exactly; the probabilities of the current
//! `models/answer_head.onnx` to 1e-4.
//!
//! When `models/answer_head.onnx` is retrained, regenerate the golden file
//! by rerunning `python3 testdata/make_answer_golden.py` (the features stay
//! the same; the probabilities change).
//!
//! Also: no answer (`Ok(None)`) for silence, an empty slice and a too-short
//! recording; a very long recording costs the same network work; malformed
//! models are errors, not panics. `timing_release` (ignored) prints the
//! time per call: `cargo test --release --test answer_scorer -- --ignored --nocapture`.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::Deserialize;
use wakeguard::answer::{
    AnswerScorer, EMBEDDED_EMBEDDING, EMBEDDED_HEAD, EMBEDDED_MEL, FRAME, LABELS, MAX_CUT,
    N_FEATURES, N_WIN, n_windows, speech_cut,
};
use wakeguard::audio::read_wav;
use wakeguard::{Error, ModelError};

/// Features: |ours - reference| <= TOL_FEATURE * max(1, |reference|).
const TOL_FEATURE: f32 = 1e-3;
/// Probabilities: absolute.
const TOL_PROB: f32 = 1e-4;

#[derive(Deserialize)]
struct Golden {
    labels: Vec<String>,
    clips: Vec<Clip>,
}

#[derive(Deserialize)]
struct Burst {
    seed: u64,
    len: usize,
    start: usize,
    end: usize,
    quiet: i64,
    loud: i64,
}

#[derive(Deserialize)]
struct Clip {
    name: String,
    file: Option<String>,
    start: Option<usize>,
    burst: Option<Burst>,
    zeros: Option<usize>,
    cut_len: Option<usize>,
    n_windows: Option<usize>,
    features_head: Option<Vec<f32>>,
    features_sum: Option<f64>,
    probs: Option<Vec<f32>>,
}

/// The synthetic burst of `make_answer_golden.py`, bit for bit (xorshift64).
fn burst(b: &Burst) -> Vec<i16> {
    let mut s = b.seed;
    (0..b.len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 48) as i64 - 32768;
            let amp = if (b.start..b.end).contains(&i) {
                b.loud
            } else {
                b.quiet
            };
            // Python's int(u * amp / 32768): float division truncated toward
            // zero; exact in f64 for these magnitudes.
            (u as f64 * amp as f64 / 32768.0).trunc() as i16
        })
        .collect()
}

fn pcm_of(clip: &Clip) -> Vec<i16> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(file) = &clip.file {
        let audio = read_wav(root.join(file)).unwrap();
        audio.to_i16()[clip.start.unwrap_or(0)..].to_vec()
    } else if let Some(b) = &clip.burst {
        burst(b)
    } else {
        vec![0; clip.zeros.unwrap()]
    }
}

/// One scorer shared by the tests (loading plans three models).
fn scorer() -> MutexGuard<'static, AnswerScorer> {
    static S: OnceLock<Mutex<AnswerScorer>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(AnswerScorer::embedded().unwrap()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn golden() -> Golden {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/answer_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn cut_and_windows() {
    assert_eq!(speech_cut(&[]), None);
    assert_eq!(speech_cut(&[1000; 159]), None);
    assert_eq!(speech_cut(&[0; 16000]), None);
    // Quieter than the floor everywhere.
    assert_eq!(speech_cut(&[19; 16000]), None);
    assert_eq!(speech_cut(&[20; 16000]), Some(0..16000));
    let mut x = vec![0i16; 100_000];
    x[49_920..50_080].fill(1000); // frame 312
    assert_eq!(speech_cut(&x), Some(45_120..54_880));
    // Above the floor but below a tenth of the loudest frame: not active.
    x[20_000..20_160].fill(99);
    assert_eq!(speech_cut(&x), Some(45_120..54_880));
    x[20_000..20_160].fill(100);
    // 15_200..47_200 is longer than MAX_CUT: its first MAX_CUT samples.
    assert_eq!(speech_cut(&x), Some(15_200..15_200 + MAX_CUT));
    x[20_000..20_160].fill(0);
    // A partial last frame is not measured.
    assert_eq!(speech_cut(&x[..50_079]), None);
    // A click far later: the level rises to 237, below 1000, and the cut
    // now spans both, truncated to MAX_CUT.
    x[90_000] = 30_000;
    let c = speech_cut(&x).unwrap();
    assert_eq!(c.start, 45_120);
    assert_eq!(c.len(), MAX_CUT);
    // The cut and its 2 x 60 frames of silence: (frames - 76) / 8 + 1.
    assert_eq!(n_windows(0), 1);
    assert_eq!(n_windows(16 * FRAME), 1);
    assert_eq!(n_windows(24 * FRAME - 1), 1); // 83 frames
    assert_eq!(n_windows(24 * FRAME), 2); // 84 frames
    assert_eq!(n_windows(40 * FRAME), 4); // a 0.4 s cut: 100 frames
    assert_eq!(n_windows(MAX_CUT), N_WIN);
    assert_eq!(n_windows(usize::MAX), N_WIN);
    assert_eq!(N_WIN, 22);
}

#[test]
fn golden_features_and_probs() {
    let g = golden();
    assert_eq!(g.labels, LABELS);
    assert!(g.clips.len() >= 5);
    let mut s = scorer();
    let (mut worst_f, mut worst_p) = (0.0f32, 0.0f32);
    for clip in &g.clips {
        let pcm = pcm_of(clip);
        let name = &clip.name;
        let cut = speech_cut(&pcm);
        assert_eq!(
            cut.as_ref().map(|c| c.len()),
            clip.cut_len,
            "{name}: cut length"
        );
        assert_eq!(
            cut.map(|c| n_windows(c.len())),
            clip.n_windows,
            "{name}: windows"
        );
        let features = s.features(&pcm).unwrap();
        let scores = s.score(&pcm).unwrap();
        let (Some(f), Some(scores)) = (features, scores) else {
            assert!(features.is_none() && scores.is_none(), "{name}");
            assert!(
                clip.features_head.is_none() && clip.probs.is_none(),
                "{name}"
            );
            continue;
        };
        let want = clip.features_head.as_ref().unwrap();
        for (k, (a, b)) in f.iter().zip(want).enumerate() {
            let d = (a - b).abs() / b.abs().max(1.0);
            assert!(
                d <= TOL_FEATURE,
                "{name}: feature {k}: ours {a}, reference {b}"
            );
            worst_f = worst_f.max(d);
        }
        let sum: f64 = f.iter().map(|&v| f64::from(v)).sum();
        let want_sum = clip.features_sum.unwrap();
        let scale: f64 = f.iter().map(|&v| f64::from(v).abs()).sum();
        assert!(
            (sum - want_sum).abs() <= f64::from(TOL_FEATURE) * scale.max(1.0),
            "{name}: feature sum: ours {sum}, reference {want_sum}"
        );
        let p = scores.to_array();
        for (k, (a, b)) in p.iter().zip(clip.probs.as_ref().unwrap()).enumerate() {
            let d = (a - b).abs();
            assert!(
                d <= TOL_PROB,
                "{name}: prob of {}: ours {a}, reference {b}",
                LABELS[k]
            );
            worst_p = worst_p.max(d);
        }
        let total: f32 = p.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "{name}: probs sum to {total}");
        assert_eq!(f.len(), N_FEATURES);
    }
    println!(
        "worst feature difference {worst_f:.2e} (relative), worst prob difference {worst_p:.2e}"
    );
}

#[test]
fn repeated_calls_agree() {
    let g = golden();
    let pcm = pcm_of(&g.clips[0]);
    let mut s = scorer();
    let a = s.score(&pcm).unwrap().unwrap();
    // Another recording in between must leave nothing behind.
    s.score(&pcm_of(&g.clips[3])).unwrap().unwrap();
    assert_eq!(s.score(&pcm).unwrap().unwrap(), a);
}

#[test]
fn shared_scorers_agree_and_are_send() {
    fn send<T: Send>(_: &T) {}
    let g = golden();
    let pcm = pcm_of(&g.clips[1]);
    let mut a = AnswerScorer::shared_embedded().unwrap();
    let mut b = AnswerScorer::shared_embedded().unwrap();
    send(&a);
    let want = scorer().score(&pcm).unwrap();
    assert_eq!(a.score(&pcm).unwrap(), want);
    assert_eq!(b.score(&pcm).unwrap(), want);
    let t = std::thread::spawn(move || b.score(&pcm).unwrap());
    assert_eq!(t.join().unwrap(), want);
}

#[test]
fn no_answer_is_none() {
    let mut s = scorer();
    assert_eq!(s.score(&[]).unwrap(), None);
    assert_eq!(s.score(&[0; 16_000]).unwrap(), None);
    assert_eq!(s.score(&[12_000; 100]).unwrap(), None);
    assert_eq!(s.score(&[0; 159]).unwrap(), None);
    // Quieter than the floor everywhere.
    let hum: Vec<i16> = (0..32_000).map(|i| [-15, 15][i % 2]).collect();
    assert_eq!(s.score(&hum).unwrap(), None);
    assert_eq!(s.features(&[]).unwrap(), None);
}

#[test]
fn ten_minutes_with_one_burst() {
    let n = 10 * 60 * 16_000;
    let mut pcm = vec![0i16; n];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for (i, v) in pcm.iter_mut().enumerate() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let amp = if (300 * 16_000..300 * 16_000 + 8_000).contains(&i) {
            8_000
        } else {
            4
        };
        *v = (((state >> 48) as i64 - 32_768) * amp / 32_768) as i16;
    }
    let cut = speech_cut(&pcm).unwrap();
    assert!(cut.start >= 300 * 16_000 - 4_800 && cut.len() <= 8_000 + 2 * 4_800);
    let mut s = scorer();
    let t = Instant::now();
    let scores = s.score(&pcm).unwrap().unwrap();
    println!("10 min recording: {:?} in {:?}", scores, t.elapsed());
    let total: f32 = scores.to_array().iter().sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
}

fn assert_model_error(r: Result<AnswerScorer, Error>, what: &str) {
    match r {
        Err(Error::Model(e)) => println!("{what}: {e}"),
        Err(e) => panic!("{what}: not a model error: {e}"),
        Ok(_) => panic!("{what}: loaded"),
    }
}

#[test]
fn garbage_models_are_errors() {
    let garbage = b"definitely not an onnx model";
    assert_model_error(
        AnswerScorer::from_bytes(garbage, EMBEDDED_EMBEDDING, EMBEDDED_HEAD),
        "garbage mel",
    );
    assert_model_error(
        AnswerScorer::from_bytes(EMBEDDED_MEL, garbage, EMBEDDED_HEAD),
        "garbage embedding",
    );
    assert_model_error(
        AnswerScorer::from_bytes(EMBEDDED_MEL, EMBEDDED_EMBEDDING, garbage),
        "garbage head",
    );
    assert_model_error(
        AnswerScorer::from_bytes(&[], EMBEDDED_EMBEDDING, EMBEDDED_HEAD),
        "empty mel",
    );
    assert_model_error(
        AnswerScorer::from_bytes(
            EMBEDDED_MEL,
            EMBEDDED_EMBEDDING,
            &EMBEDDED_HEAD[..EMBEDDED_HEAD.len() / 2],
        ),
        "truncated head",
    );
    // The keyword model is valid ONNX, but not of these shapes.
    assert_model_error(
        AnswerScorer::from_bytes(
            EMBEDDED_MEL,
            EMBEDDED_EMBEDDING,
            wakeguard::model::EMBEDDED_MODEL,
        ),
        "keyword model as head",
    );
}

#[test]
fn swapped_models_are_errors() {
    let (m, e, h) = (EMBEDDED_MEL, EMBEDDED_EMBEDDING, EMBEDDED_HEAD);
    assert_model_error(AnswerScorer::from_bytes(h, e, h), "head as mel");
    assert_model_error(AnswerScorer::from_bytes(e, e, h), "embedding as mel");
    assert_model_error(AnswerScorer::from_bytes(m, m, h), "mel as embedding");
    assert_model_error(AnswerScorer::from_bytes(m, h, h), "head as embedding");
    assert_model_error(AnswerScorer::from_bytes(m, e, m), "mel as head");
    assert_model_error(AnswerScorer::from_bytes(m, e, e), "embedding as head");
    assert_model_error(AnswerScorer::from_bytes(h, m, e), "all rotated");
}

#[test]
fn head_with_wrong_labels_is_refused() {
    // The same head with its "labels" metadata reordered: the bytes of the
    // value are swapped in place ("yes,no" -> "no,yes"; same length).
    let mut bytes = EMBEDDED_HEAD.to_vec();
    let value = b"yes,no,cancel,other";
    let at = bytes
        .windows(value.len())
        .position(|w| w == value)
        .expect("the head names its labels");
    bytes[at..at + value.len()].copy_from_slice(b"no,yes,cancel,other");
    match AnswerScorer::from_bytes(EMBEDDED_MEL, EMBEDDED_EMBEDDING, &bytes) {
        Err(Error::Model(ModelError::BadMetadata(why))) => println!("{why}"),
        other => panic!("not refused: {other:?}"),
    }
}

/// Time per `score` call. Run in release mode:
/// `cargo test --release --test answer_scorer -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release mode with --nocapture"]
fn timing_release() {
    let t = Instant::now();
    let mut s = AnswerScorer::embedded().unwrap();
    println!(
        "load (parse, optimise, plan three models): {:?}",
        t.elapsed()
    );
    for clip in golden().clips.iter().filter(|c| c.probs.is_some()) {
        let pcm = pcm_of(clip);
        s.score(&pcm).unwrap();
        let runs = 20;
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(s.score(std::hint::black_box(&pcm)).unwrap());
        }
        println!(
            "{:>12}: {:6.1} ms per score call ({} samples)",
            clip.name,
            t.elapsed().as_secs_f64() * 1e3 / runs as f64,
            pcm.len()
        );
    }
}

#[test]
fn another_head_on_the_shared_models() {
    use wakeguard::answer::EMBEDDED_HEAD;
    let pcm = burst(&Burst {
        seed: 7,
        len: 24_000,
        start: 4_000,
        end: 14_000,
        quiet: 30,
        loud: 8_000,
    });
    let mut a = AnswerScorer::embedded().unwrap();
    let mut b = AnswerScorer::with_head(EMBEDDED_HEAD).unwrap();
    let (x, y) = (
        a.score(&pcm).unwrap().unwrap(),
        b.score(&pcm).unwrap().unwrap(),
    );
    for (p, q) in x.to_array().iter().zip(y.to_array()) {
        assert!((p - q).abs() < 1e-6, "{x:?} {y:?}");
    }
    assert!(matches!(
        AnswerScorer::with_head(b"not a model"),
        Err(wakeguard::Error::Model(_))
    ));
    assert!(matches!(
        AnswerScorer::with_head(wakeguard::answer::EMBEDDED_MEL),
        Err(wakeguard::Error::Model(_))
    ));
}
