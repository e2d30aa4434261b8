//! The evaluation metrics (`wakeguard::eval`): a hand-built case whose
//! numbers are worked out in the comments, annotation-file errors, and an
//! independent recount of real detector events on a synthetic stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wakeguard::audio::read_wav;
use wakeguard::detector::{Detection, Detector, DetectorConfig};
use wakeguard::eval::{
    AnnotationCheck, EvalConfig, EvalError, Evaluation, ScoredEvent, Source, Span, ThresholdRuns,
    Truth, VadConfig, read_annotations, speech_bounds,
};
use wakeguard::model::KeywordModel;

const EPS: f64 = 1e-9;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

fn clip(label: Option<&str>, duration_s: f64, speech_end_s: Option<f64>) -> Source {
    Source {
        name: format!("clip:{label:?}"),
        duration_s,
        truth: Truth::Clip {
            label: label.map(String::from),
            speech_end_s,
        },
    }
}

fn span(label: &str, start_s: f64, end_s: f64) -> Span {
    Span {
        label: label.into(),
        start_s,
        end_s,
    }
}

fn ev(label: &str, score: f32, time_s: f64, source: usize) -> ScoredEvent {
    ScoredEvent {
        label: label.into(),
        score,
        time_s,
        source,
    }
}

/// The hand-built case. Tolerance 1.0 s.
///
/// Sources (10 s of clips, 5400 s of streams):
/// - 0, 1, 2: "computer" clips, 2 s each; speech ends at 1.0, 1.2 and
///   unknown (VAD found nothing).
/// - 3: "jarvis" clip, 2 s, speech ends at 0.9.
/// - 4: negative clip (no label), 1 s.
/// - 5: an "alexa" clip, 1 s; alexa is not evaluated, so it is negative
///   material for every evaluated label.
/// - 6: stream of 3600 s: computer A [100, 101] (window [100, 102]),
///   computer B [200, 201] (window [200, 202]), jarvis [300, 307] (window
///   [300, 308]), yes [400, 409] (window [400, 410]).
/// - 7: stream of 1800 s without any utterance.
///
/// Background per label:
/// - computer: clips 3, 4, 5 = 4 s; stream 6 minus 2 + 2 s of windows =
///   3596 s; stream 7 = 1800 s. Total 5400 s = 1.5 h.
/// - jarvis: clips 0-2, 4, 5 = 8 s; 3600 − 8 = 3592 s; 1800 s. 5400 s = 1.5 h.
/// - yes: all clips = 10 s; 3600 − 10 = 3590 s; 1800 s. 5400 s = 1.5 h.
/// - no: no utterance anywhere: 10 + 3600 + 1800 = 5410 s.
fn hand_built() -> Evaluation {
    let labels: Vec<String> = ["computer", "jarvis", "yes", "no"]
        .map(String::from)
        .to_vec();
    let sources = vec![
        clip(Some("computer"), 2.0, Some(1.0)),
        clip(Some("computer"), 2.0, Some(1.2)),
        clip(Some("computer"), 2.0, None),
        clip(Some("jarvis"), 2.0, Some(0.9)),
        clip(None, 1.0, None),
        clip(Some("alexa"), 1.0, Some(0.5)),
        Source {
            name: "stream6".into(),
            duration_s: 3600.0,
            truth: Truth::Stream {
                spans: vec![
                    span("computer", 100.0, 101.0),
                    span("computer", 200.0, 201.0),
                    span("jarvis", 300.0, 307.0),
                    span("yes", 400.0, 409.0),
                ],
            },
        },
        Source {
            name: "stream7".into(),
            duration_s: 1800.0,
            truth: Truth::Stream { spans: vec![] },
        },
    ];
    let events = vec![
        // computer
        ev("computer", 0.9, 1.3, 0),    // clip 0 hit, latency 0.3
        ev("computer", 0.95, 1.8, 0),   // clip 0 again (later, higher), latency 0.8
        ev("computer", 0.6, 1.5, 1),    // clip 1 hit, latency 0.3
        ev("computer", 0.7, 1.0, 2),    // clip 2 hit, no latency (end unknown)
        ev("computer", 0.8, 101.4, 6),  // span A hit, latency 0.4
        ev("computer", 0.99, 202.5, 6), // 0.5 s past B's window: FA; B missed
        ev("computer", 0.4, 99.5, 6),   // before A starts: FA
        ev("computer", 0.55, 1.0, 3),   // on the jarvis clip: FA
        ev("computer", 0.3, 0.5, 4),    // on the negative clip: FA
        ev("computer", 0.7, 1000.0, 7), // stream 7: FA
        ev("computer", 0.45, 300.5, 6), // inside the jarvis span: FA for computer
        // jarvis
        ev("jarvis", 0.85, 1.2, 3),    // clip 3 hit, latency 0.3
        ev("jarvis", 0.65, 308.0, 6),  // window end is inclusive: hit, latency 1.0
        ev("jarvis", 0.95, 308.01, 6), // just past it: FA
        ev("jarvis", 0.75, 1.1, 0),    // on a computer clip: FA
        ev("jarvis", 0.2, 5.0, 7),     // FA
        // yes
        ev("yes", 0.5, 409.5, 6),  // hit, latency 0.5
        ev("yes", 0.52, 409.7, 6), // same utterance: not a FA; latency 0.7 when alone
        ev("yes", 0.8, 10.0, 7),   // FA
        ev("yes", 0.1, 0.2, 4),    // FA
        // no (no positives)
        ev("no", 0.9, 0.5, 5), // FA
        // labels that are not evaluated are ignored
        ev("alexa", 0.99, 0.5, 5),
    ];
    Evaluation::new(&labels, &sources, &events, EvalConfig { tolerance_s: 1.0 }).unwrap()
}

#[test]
fn hand_built_background_hours() {
    let e = hand_built();
    assert!(close(e.background_hours("computer").unwrap(), 1.5));
    assert!(close(e.background_hours("jarvis").unwrap(), 1.5));
    assert!(close(e.background_hours("yes").unwrap(), 1.5));
    assert!(close(e.background_hours("no").unwrap(), 5410.0 / 3600.0));
    assert!(close(e.total_hours(), 5410.0 / 3600.0));
    assert_eq!(e.positives("computer").unwrap(), 5);
    assert_eq!(e.positives("jarvis").unwrap(), 2);
    assert_eq!(e.positives("yes").unwrap(), 1);
    assert_eq!(e.positives("no").unwrap(), 0);
    assert!(matches!(
        e.positives("alexa"),
        Err(EvalError::UnknownLabel(_))
    ));
}

#[test]
fn hand_built_counts_at_thresholds() {
    let e = hand_built();

    // computer at 0.5: hits clip 0 (best 0.95), clip 1 (0.6), clip 2 (0.7),
    // span A (0.8); span B missed → 4 hits, 1 miss, miss rate 0.2.
    // FAs ≥ 0.5: 0.99 (past B), 0.55 (jarvis clip), 0.7 (stream 7) → 3,
    // 3 / 1.5 h = 2 per hour. Latencies: clip 0 first event ≥ 0.5 at 1.3 →
    // 0.3; clip 1 → 0.3; clip 2 none; span A → 0.4. Median of
    // [0.3, 0.3, 0.4] = 0.3; p95 = ⌈0.95·3⌉ = 3rd = 0.4.
    let s = e.at_threshold("computer", 0.5).unwrap();
    assert_eq!(
        (s.positives, s.hits, s.misses, s.false_alarms),
        (5, 4, 1, 3)
    );
    assert!(close(s.miss_rate.unwrap(), 0.2));
    assert!(close(s.fa_per_hour.unwrap(), 2.0));
    assert_eq!(s.latency.count, 3);
    assert!((s.latency.median_s.unwrap() - 0.3).abs() < 1e-9);
    assert!((s.latency.p95_s.unwrap() - 0.4).abs() < 1e-9);

    // computer at 0.92: only clip 0 (0.95, first such event at 1.8 →
    // latency 0.8); FA: 0.99 → 1 → 0.667/h.
    let s = e.at_threshold("computer", 0.92).unwrap();
    assert_eq!((s.hits, s.misses, s.false_alarms), (1, 4, 1));
    assert!(close(s.miss_rate.unwrap(), 0.8));
    assert!(close(s.fa_per_hour.unwrap(), 1.0 / 1.5));
    assert!((s.latency.median_s.unwrap() - 0.8).abs() < 1e-9);
    assert!((s.latency.p95_s.unwrap() - 0.8).abs() < 1e-9);

    // computer at 0.3: 4 hits; every FA counts: 0.99, 0.55, 0.7, 0.45,
    // 0.4, 0.3 → 6 → 4 per hour.
    let s = e.at_threshold("computer", 0.3).unwrap();
    assert_eq!((s.hits, s.false_alarms), (4, 6));
    assert!(close(s.fa_per_hour.unwrap(), 4.0));

    // jarvis at 0.5: clip 3 (0.85) and the span (0.65, at its window's
    // end) → 2 hits; FAs 0.95 and 0.75 → 2 → 1.333/h. Latencies [0.3,
    // 1.0]: median 0.65, p95 = 2nd = 1.0.
    let s = e.at_threshold("jarvis", 0.5).unwrap();
    assert_eq!(
        (s.positives, s.hits, s.misses, s.false_alarms),
        (2, 2, 0, 2)
    );
    assert!(close(s.miss_rate.unwrap(), 0.0));
    assert!(close(s.fa_per_hour.unwrap(), 2.0 / 1.5));
    assert!((s.latency.median_s.unwrap() - 0.65).abs() < 1e-9);
    assert!((s.latency.p95_s.unwrap() - 1.0).abs() < 1e-9);
    // jarvis at 0.7: the span's 0.65 no longer counts → 1 hit, miss 0.5.
    let s = e.at_threshold("jarvis", 0.7).unwrap();
    assert_eq!((s.hits, s.false_alarms), (1, 2));
    assert!(close(s.miss_rate.unwrap(), 0.5));

    // yes at 0.5: the span is hit (0.5 and 0.52 both match it, neither is a
    // FA); FA: 0.8 → 1 → 0.667/h; latency from the first event ≥ 0.5:
    // 409.5 − 409 = 0.5. At 0.51 the first qualifying event is at 409.7.
    let s = e.at_threshold("yes", 0.5).unwrap();
    assert_eq!((s.hits, s.misses, s.false_alarms), (1, 0, 1));
    assert!(close(s.fa_per_hour.unwrap(), 1.0 / 1.5));
    assert!((s.latency.median_s.unwrap() - 0.5).abs() < 1e-9);
    let s = e.at_threshold("yes", 0.51).unwrap();
    assert!((s.latency.median_s.unwrap() - 0.7).abs() < 1e-9);
    // yes at 0.05: the 0.1 FA on the negative clip joins → 2.
    assert_eq!(e.at_threshold("yes", 0.05).unwrap().false_alarms, 2);

    // no: no positives → no miss rate; 1 FA over 5410 s.
    let s = e.at_threshold("no", 0.5).unwrap();
    assert_eq!((s.positives, s.hits, s.false_alarms), (0, 0, 1));
    assert_eq!(s.miss_rate, None);
    assert!(close(s.fa_per_hour.unwrap(), 3600.0 / 5410.0));
    assert_eq!(s.latency.count, 0);
    assert_eq!(s.latency.median_s, None);
}

#[test]
fn hand_built_det_curve_and_fa_targets() {
    let e = hand_built();
    // computer, by threshold (hits, FAs): 0.99 (0, 1), 0.95 (1, 1),
    // 0.9 (1, 1), 0.8 (2, 1), 0.7 (3, 2), 0.6 (4, 2), 0.55 (4, 3),
    // 0.45 (4, 4), 0.4 (4, 5), 0.3 (4, 6).
    let det = e.det_curve("computer").unwrap();
    let got: Vec<(f32, usize, usize)> = det
        .iter()
        .map(|p| (p.threshold, p.hits, p.false_alarms))
        .collect();
    assert_eq!(
        got,
        vec![
            (0.99, 0, 1),
            (0.95, 1, 1),
            (0.9, 1, 1),
            (0.8, 2, 1),
            (0.7, 3, 2),
            (0.6, 4, 2),
            (0.55, 4, 3),
            (0.45, 4, 4),
            (0.4, 4, 5),
            (0.3, 4, 6),
        ]
    );
    // FA/h = FAs / 1.5: the lowest is 0.667, so 0.1 and 0.5 FA/h are out of
    // reach of every candidate threshold.
    assert_eq!(e.at_fa_target("computer", 0.1).unwrap().point, None);
    assert_eq!(e.at_fa_target("computer", 0.5).unwrap().point, None);
    // ≤ 1 FA/h: thresholds 0.99..0.8 (1 FA); best miss 1 − 2/5 = 0.6 at 0.8.
    let p = e.at_fa_target("computer", 1.0).unwrap().point.unwrap();
    assert_eq!(p.threshold, 0.8);
    assert!(close(p.miss_rate.unwrap(), 0.6));
    assert!(close(p.fa_per_hour.unwrap(), 1.0 / 1.5));
    // ≤ 1.5 FA/h: down to 0.6 (2 FAs = 1.333/h), miss 0.2.
    let p = e.at_fa_target("computer", 1.5).unwrap().point.unwrap();
    assert_eq!(p.threshold, 0.6);
    assert!(close(p.miss_rate.unwrap(), 0.2));
    // ≤ 3 FA/h: 0.6, 0.55 and 0.45 all miss 0.2; the highest threshold
    // (fewest false alarms) is reported.
    let p = e.at_fa_target("computer", 3.0).unwrap().point.unwrap();
    assert_eq!(p.threshold, 0.6);

    // jarvis: 0.95 (0 hits, 1 FA), 0.85 (1, 1), 0.75 (1, 2), 0.65 (2, 2),
    // 0.2 (2, 3). ≤ 1 FA/h (≤ 1 FA): miss 0.5 at 0.85.
    let p = e.at_fa_target("jarvis", 1.0).unwrap().point.unwrap();
    assert_eq!(p.threshold, 0.85);
    assert!(close(p.miss_rate.unwrap(), 0.5));
    // ≤ 1.5 FA/h (≤ 2 FAs): miss 0 at 0.65.
    let p = e.at_fa_target("jarvis", 1.5).unwrap().point.unwrap();
    assert_eq!(p.threshold, 0.65);
    assert!(close(p.miss_rate.unwrap(), 0.0));

    // no: without positives there is no miss rate to minimise.
    assert_eq!(e.at_fa_target("no", 10.0).unwrap().point, None);

    // The summary gathers the same numbers.
    let s = e.summary("computer", 0.5, &[0.1, 0.5, 1.0]).unwrap();
    assert_eq!(s.positives, 5);
    assert!(close(s.background_hours, 1.5));
    assert_eq!(s.at_default_threshold.hits, 4);
    assert_eq!(s.at_fa_targets.len(), 3);
    assert_eq!(s.at_fa_targets[2].point.as_ref().unwrap().threshold, 0.8);
}

#[test]
fn tolerance_changes_matching_and_background() {
    // With a 2 s tolerance the computer event at 202.5 s matches span B.
    let labels = vec!["computer".to_string()];
    let sources = vec![Source {
        name: "s".into(),
        duration_s: 3600.0,
        truth: Truth::Stream {
            spans: vec![span("computer", 200.0, 201.0)],
        },
    }];
    let events = vec![ev("computer", 0.9, 202.5, 0)];
    let one = Evaluation::new(&labels, &sources, &events, EvalConfig { tolerance_s: 1.0 }).unwrap();
    let two = Evaluation::new(&labels, &sources, &events, EvalConfig { tolerance_s: 2.0 }).unwrap();
    let (a, b) = (
        one.at_threshold("computer", 0.5).unwrap(),
        two.at_threshold("computer", 0.5).unwrap(),
    );
    assert_eq!((a.hits, a.false_alarms), (0, 1));
    assert_eq!((b.hits, b.false_alarms), (1, 0));
    assert!(close(a.background_hours, 3598.0 / 3600.0));
    assert!(close(b.background_hours, 3597.0 / 3600.0));
    assert!((b.latency.median_s.unwrap() - 1.5).abs() < 1e-9);
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wakeguard_eval_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn annotation_errors_name_file_and_line() {
    let known: Vec<String> = ["computer", "jarvis"].map(String::from).to_vec();
    let check = AnnotationCheck {
        known_labels: Some(&known),
        duration_s: Some(60.0),
    };
    let ok = temp_file(
        "ok.csv",
        "label,start,end\ncomputer,1.0,1.8\njarvis,5,5.5\n",
    );
    assert_eq!(read_annotations(&ok, &check).unwrap().len(), 2);
    let ok = temp_file(
        "ok.json",
        r#"[{"label": "computer", "start": 1.0, "end": 1.8}]"#,
    );
    assert_eq!(read_annotations(&ok, &check).unwrap().len(), 1);

    let cases: [(&str, &str, usize, &str); 6] = [
        (
            "bad_number.csv",
            "label,start,end\ncomputer,1,2\njarvis,3,four\n",
            3,
            "not a number",
        ),
        (
            "unknown_label.csv",
            "label,start,end\n\n# a comment\nhey_siri,1,2\n",
            4,
            "hey_siri",
        ),
        (
            "past_end.csv",
            "label,start,end\ncomputer,59,61\n",
            2,
            "after the end of the recording",
        ),
        ("no_header.csv", "computer,1,2\n", 1, "header"),
        (
            "unknown_label.json",
            "[\n  {\"label\": \"computer\", \"start\": 1, \"end\": 2},\n  {\"label\": \"alexa\",\n   \"start\": 3, \"end\": 4}\n]\n",
            4,
            "alexa",
        ),
        (
            "syntax.json",
            "[\n  {\"label\": \"computer\", \"start\": 1, \"end\": 2}\n  {\"label\": \"jarvis\"}\n]\n",
            3,
            "expected",
        ),
    ];
    for (name, text, line, what) in cases {
        let p = temp_file(name, text);
        let e = read_annotations(&p, &check).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, EvalError::Annotation { line: l, .. } if l == line),
            "{name}: {msg}"
        );
        assert!(
            msg.contains(&p.display().to_string()) && msg.contains(&format!("line {line}")),
            "{name}: {msg}"
        );
        assert!(msg.contains(what), "{name}: {msg}");
    }
    let missing = Path::new("/nonexistent/annotations.csv");
    let e = read_annotations(missing, &check).unwrap_err();
    assert!(matches!(e, EvalError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/annotations.csv"));
}

// ------------------------------------------------------------ recount

fn testdata(name: &str) -> Vec<f32> {
    read_wav(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name),
    )
    .unwrap()
    .samples
}

/// Candidate events of `pcm` at threshold 0.05, pushed in `chunk`-sample pieces.
fn detect(model: &Arc<KeywordModel>, pcm: &[f32], chunk: usize) -> Vec<Detection> {
    detect_at(model, pcm, chunk, 0.05)
}

/// Events of `pcm` with every threshold at `threshold`.
fn detect_at(
    model: &Arc<KeywordModel>,
    pcm: &[f32],
    chunk: usize,
    threshold: f32,
) -> Vec<Detection> {
    let mut d = Detector::new(model.clone(), DetectorConfig::default()).unwrap();
    d.set_all_thresholds(threshold).unwrap();
    let mut out = Vec::new();
    for c in pcm.chunks(chunk) {
        d.push(c, |e| out.push(e)).unwrap();
    }
    d.finish(|e| out.push(e)).unwrap();
    out
}

/// Seeded quiet noise (about −60 dBFS), like the gaps in testdata.
fn quiet(n: usize, state: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((*state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.004
        })
        .collect()
}

/// Speech regions of `x` (10 ms frames above the VAD's level), with gaps
/// shorter than `min_gap_s` merged.
fn regions(x: &[f32], min_gap_s: f64) -> Vec<(f64, f64)> {
    let hop = 160;
    let energies: Vec<f64> = x
        .chunks(hop)
        .map(|f| {
            let p = f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64;
            10.0 * (p + 1e-10).log10()
        })
        .collect();
    let mut sorted = energies.clone();
    sorted.sort_by(f64::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let peak = sorted[sorted.len() - 1];
    let level = floor + 0.35 * (peak - floor);
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, &e) in energies.iter().enumerate() {
        if e <= level {
            continue;
        }
        let (s, t) = (i as f64 * 0.01, (i + 1) as f64 * 0.01);
        match out.last_mut() {
            Some(last) if s - last.1 < min_gap_s => last.1 = t,
            _ => out.push((s, t)),
        }
    }
    out
}

/// Direct count for one label at one threshold, straight from the
/// detections: (positives, hits, false alarms).
fn direct_count(
    label: &str,
    threshold: f32,
    truth: &[(Source, Vec<Detection>)],
) -> (usize, usize, usize) {
    let (mut positives, mut hits, mut fas) = (0, 0, 0);
    let t = |d: &Detection| d.end_sample as f64 / 16_000.0;
    for (source, dets) in truth {
        let mine: Vec<&Detection> = dets
            .iter()
            .filter(|d| &*d.label == label && d.score >= threshold)
            .collect();
        match &source.truth {
            Truth::Clip { label: l, .. } if l.as_deref() == Some(label) => {
                positives += 1;
                hits += usize::from(!mine.is_empty());
            }
            Truth::Clip { .. } => fas += mine.len(),
            Truth::Stream { spans } => {
                let windows = windows(spans, label);
                positives += windows.len();
                hits += windows
                    .iter()
                    .filter(|(a, b)| mine.iter().any(|d| t(d) >= *a && t(d) <= *b))
                    .count();
                fas += mine
                    .iter()
                    .filter(|d| !windows.iter().any(|(a, b)| t(d) >= *a && t(d) <= *b))
                    .count();
            }
        }
    }
    (positives, hits, fas)
}

/// Match windows of `label`: `[start, end + 1 s]`.
fn windows(spans: &[Span], label: &str) -> Vec<(f64, f64)> {
    spans
        .iter()
        .filter(|s| s.label == label)
        .map(|s| (s.start_s, s.end_s + 1.0))
        .collect()
}

/// Background seconds of `label`, by a 1 ms raster: clips of other labels,
/// and stream milliseconds in no window of the label.
fn direct_background(label: &str, truth: &[(Source, Vec<Detection>)]) -> f64 {
    let mut background = 0.0;
    for (source, _) in truth {
        match &source.truth {
            Truth::Clip { label: l, .. } if l.as_deref() == Some(label) => {}
            Truth::Clip { .. } => background += source.duration_s,
            Truth::Stream { spans } => {
                let windows = windows(spans, label);
                let ms = (source.duration_s * 1000.0).round() as usize;
                let free = (0..ms)
                    .filter(|&i| {
                        let x = (i as f64 + 0.5) / 1000.0;
                        !windows.iter().any(|(a, b)| x >= *a && x <= *b)
                    })
                    .count();
                background += free as f64 / 1000.0;
            }
        }
    }
    background
}

/// Build a stream from the testdata clips (seeded order and gaps) with its
/// annotations, add demo.wav (annotated by its speech regions) and the clips
/// themselves, run the detector at 0.05, and check that the evaluation
/// agrees with a direct count of the detector's events for every label at
/// several thresholds.
#[test]
fn eval_agrees_with_a_direct_count_of_detector_events() {
    let model = Arc::new(KeywordModel::embedded().unwrap());
    let labels: Vec<String> = model.metadata().labels[1..].to_vec();
    let vad = VadConfig::default();
    let clips = [
        ("chatter.wav", None),
        ("computer.wav", Some("computer")),
        ("jarvis.wav", Some("jarvis")),
    ];
    let pcm: Vec<(Option<&str>, Vec<f32>)> = clips
        .iter()
        .map(|(f, l)| (*l, testdata(&format!("clips/{f}"))))
        .collect();

    // The stream: 12 clips in a seeded order, 0.3-1.5 s quiet gaps.
    let mut state = 20_261_123u64;
    let mut stream: Vec<f32> = quiet(8_000, &mut state);
    let mut spans = Vec::new();
    for _ in 0..12 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let (label, x) = &pcm[(state >> 33) as usize % pcm.len()];
        if let Some(l) = label {
            let (a, b) = speech_bounds(x, 16_000, &vad).expect("speech in the clip");
            let t0 = stream.len() as f64 / 16_000.0;
            spans.push(span(l, t0 + a, t0 + b));
        }
        stream.extend_from_slice(x);
        let gap = 4_800 + (state >> 40) as usize % 19_200;
        stream.extend(quiet(gap, &mut state));
    }
    assert!(
        spans.len() >= 4,
        "too few positives in the stream: {spans:?}"
    );

    // demo.wav: kettle sentence, "Computer.", "Send a message to Alice.", "Yes."
    let demo = testdata("demo.wav");
    let r = regions(&demo, 0.5);
    assert_eq!(r.len(), 4, "speech regions of demo.wav: {r:?}");
    let demo_spans = vec![
        span("computer", r[1].0, r[1].1),
        span("send_message", r[2].0, r[2].1),
        span("yes", r[3].0, r[3].1),
    ];

    let mut inputs: Vec<(Source, Vec<f32>)> = vec![
        (
            Source {
                name: "synthetic stream".into(),
                duration_s: stream.len() as f64 / 16_000.0,
                truth: Truth::Stream { spans },
            },
            stream,
        ),
        (
            Source {
                name: "demo.wav".into(),
                duration_s: demo.len() as f64 / 16_000.0,
                truth: Truth::Stream { spans: demo_spans },
            },
            demo,
        ),
    ];
    for (label, x) in pcm {
        inputs.push((
            Source {
                name: format!("{label:?} clip"),
                duration_s: x.len() as f64 / 16_000.0,
                truth: Truth::Clip {
                    label: label.map(String::from),
                    speech_end_s: speech_bounds(&x, 16_000, &vad).map(|b| b.1),
                },
            },
            x,
        ));
    }

    // The evaluation's events, collected in 1600-sample pushes; the direct
    // count's, in 4000-sample pushes (the detector is chunking-invariant).
    let mut events = Vec::new();
    let mut truth = Vec::new();
    let mut pcms = Vec::new();
    for (id, (source, x)) in inputs.into_iter().enumerate() {
        events.extend(
            detect(&model, &x, 1600)
                .iter()
                .map(|d| ScoredEvent::from_detection(d, id)),
        );
        truth.push((source, detect(&model, &x, 4000)));
        pcms.push(x);
    }
    assert!(!events.is_empty(), "no candidate event at all at 0.05");
    assert_eq!(
        events.len(),
        truth.iter().map(|(_, d)| d.len()).sum::<usize>()
    );

    let sources: Vec<Source> = truth.iter().map(|(s, _)| s.clone()).collect();
    let eval = Evaluation::new(&labels, &sources, &events, EvalConfig::default()).unwrap();
    // Not a vacuous comparison: the keyword clips give hits (as the
    // detector tests expect of any usable model).
    let hits: usize = labels
        .iter()
        .map(|l| eval.at_threshold(l, 0.05).unwrap().hits)
        .sum();
    assert!(hits > 0, "no hit at all at 0.05");
    let mut thresholds = vec![0.05f32, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99];
    thresholds.extend(model.metadata().thresholds.values());
    // Every distinct event score too: the exact DET operating points.
    thresholds.extend(events.iter().map(|e| e.score));
    let mut checked = 0;
    for label in &labels {
        let background_s = direct_background(label, &truth);
        for &t in &thresholds {
            let (positives, hits, fas) = direct_count(label, t, &truth);
            let s = eval.at_threshold(label, t).unwrap();
            assert_eq!(
                (s.positives, s.hits, s.false_alarms),
                (positives, hits, fas),
                "{label} at {t}"
            );
            assert!(
                (s.background_hours * 3600.0 - background_s).abs() < 0.01,
                "{label}: {} h vs {background_s} s",
                s.background_hours
            );
            checked += 1;
        }
        // The DET curve is the same counts at each distinct score.
        for p in eval.det_curve(label).unwrap() {
            let (_, hits, fas) = direct_count(label, p.threshold, &truth);
            assert_eq!((p.hits, p.false_alarms), (hits, fas), "{label} DET");
        }
    }
    assert!(checked > 0);

    // One detector run per threshold (what the evaluate tool reports): each
    // DET point equals a direct count of that run's events.
    let grid = [0.3f32, 0.6, 0.9];
    let mut runs = Vec::new();
    let mut direct = Vec::new();
    for &t in &grid {
        let per_source: Vec<(Source, Vec<Detection>)> = truth
            .iter()
            .zip(&pcms)
            .map(|((s, _), x)| (s.clone(), detect_at(&model, x, 1600, t)))
            .collect();
        let events: Vec<ScoredEvent> = per_source
            .iter()
            .enumerate()
            .flat_map(|(id, (_, d))| d.iter().map(move |d| ScoredEvent::from_detection(d, id)))
            .collect();
        let e = Evaluation::new(&labels, &sources, &events, EvalConfig::default()).unwrap();
        runs.push((t, e));
        direct.push((t, per_source));
    }
    let runs = ThresholdRuns::new(runs).unwrap();
    assert_eq!(runs.thresholds(), vec![0.9, 0.6, 0.3]);
    for label in &labels {
        let det = runs.det_curve(label).unwrap();
        for p in &det {
            let (_, per_source) = direct.iter().find(|(t, _)| *t == p.threshold).unwrap();
            let (_, hits, fas) = direct_count(label, p.threshold, per_source);
            assert_eq!(
                (p.hits, p.false_alarms),
                (hits, fas),
                "{label} run at {}",
                p.threshold
            );
        }
    }
}

/// Operating points from separate runs, one per threshold: 4 "computer"
/// clips of 2 s and a negative clip of 3600 s (1 h of background).
/// - run at 0.9: clip 0 hit, no FA → miss 0.75, 0 FA/h;
/// - run at 0.6: clips 0-2 hit, 1 FA → miss 0.25, 1 FA/h;
/// - run at 0.3: all 4 hit, 3 FAs → miss 0, 3 FA/h.
#[test]
fn threshold_runs_give_one_point_per_run() {
    let labels = vec!["computer".to_string()];
    let mut sources: Vec<Source> = (0..4)
        .map(|_| clip(Some("computer"), 2.0, Some(1.0)))
        .collect();
    sources.push(clip(None, 3600.0, None));
    let run = |t: f32, hit: usize, fas: usize| {
        let mut events: Vec<ScoredEvent> = (0..hit).map(|i| ev("computer", t, 1.2, i)).collect();
        events.extend((0..fas).map(|i| ev("computer", t, 10.0 * i as f64, 4)));
        // An event below the run's threshold cannot come from that run; it
        // is not counted at the run's threshold.
        events.push(ev("computer", t - 0.01, 20.0, 4));
        (
            t,
            Evaluation::new(&labels, &sources, &events, EvalConfig::default()).unwrap(),
        )
    };
    let runs = ThresholdRuns::new(vec![run(0.6, 3, 1), run(0.3, 4, 3), run(0.9, 1, 0)]).unwrap();
    let det = runs.det_curve("computer").unwrap();
    let got: Vec<(f32, usize, usize)> = det
        .iter()
        .map(|p| (p.threshold, p.hits, p.false_alarms))
        .collect();
    assert_eq!(got, vec![(0.9, 1, 0), (0.6, 3, 1), (0.3, 4, 3)]);
    assert!(close(det[1].fa_per_hour.unwrap(), 1.0));
    let at = |target: f64| runs.at_fa_target("computer", target).unwrap().point;
    let p = at(0.5).unwrap();
    assert_eq!(p.threshold, 0.9);
    assert!(close(p.miss_rate.unwrap(), 0.75));
    assert_eq!(at(1.0).unwrap().threshold, 0.6);
    assert_eq!(at(5.0).unwrap().threshold, 0.3);
    assert!(close(at(5.0).unwrap().miss_rate.unwrap(), 0.0));

    // Refused: no run, a threshold twice, runs over other sources.
    assert!(ThresholdRuns::new(vec![]).is_err());
    assert!(ThresholdRuns::new(vec![run(0.6, 3, 1), run(0.6, 3, 1)]).is_err());
    let other = Evaluation::new(&labels, &sources[..4], &[], EvalConfig::default()).unwrap();
    assert!(ThresholdRuns::new(vec![run(0.6, 3, 1), (0.5, other)]).is_err());
}

/// The same recount on seeded random truth and events (independent of the
/// model): clips of random labels and streams with random spans, events
/// placed near and inside the spans.
#[test]
fn eval_agrees_with_a_direct_count_of_random_events() {
    let labels: Vec<String> = ["computer", "jarvis", "yes"].map(String::from).to_vec();
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for case in 0..40 {
        let mut truth: Vec<(Source, Vec<Detection>)> = Vec::new();
        let n_sources = 1 + (next() * 6.0) as usize;
        for _ in 0..n_sources {
            let is_clip = next() < 0.5;
            let duration_s = if is_clip {
                1.0 + next() * 2.0
            } else {
                20.0 + next() * 40.0
            };
            let truth_kind = if is_clip {
                let pick = (next() * 4.0) as usize;
                Truth::Clip {
                    label: labels.get(pick).cloned(),
                    speech_end_s: Some(duration_s * 0.6),
                }
            } else {
                let mut spans = Vec::new();
                // Spans on a 10 ms grid, so that events can sit exactly on
                // a window's edges.
                let mut t = (next() * 300.0) as u64;
                while (t + 200) as f64 / 100.0 < duration_s {
                    let len = 30 + (next() * 100.0) as u64;
                    let label = &labels[(next() * 3.0) as usize];
                    spans.push(span(label, t as f64 / 100.0, (t + len) as f64 / 100.0));
                    t += len + (next() * 600.0) as u64;
                }
                Truth::Stream { spans }
            };
            let spans = match &truth_kind {
                Truth::Stream { spans } => spans.clone(),
                Truth::Clip { .. } => vec![],
            };
            let mut dets = Vec::new();
            for _ in 0..(next() * 25.0) as usize {
                let kind = next();
                let edge = spans.get((next() * spans.len() as f64) as usize);
                let end_sample = match edge {
                    // At a span's start, at its end + 1 s (the window's
                    // last instant), just before and just after.
                    Some(s) if kind < 0.1 => (s.start_s * 16_000.0).round() as u64,
                    Some(s) if kind < 0.2 => (s.start_s * 16_000.0).round() as u64 - 1,
                    Some(s) if kind < 0.3 => ((s.end_s + 1.0) * 16_000.0).round() as u64,
                    Some(s) if kind < 0.4 => ((s.end_s + 1.0) * 16_000.0).round() as u64 + 1,
                    _ => (next() * duration_s * 16_000.0) as u64,
                };
                dets.push(Detection {
                    label: Arc::from(labels[(next() * 3.0) as usize].as_str()),
                    label_index: 0,
                    score: (0.05 + next() * 0.95) as f32,
                    start_sample: end_sample.saturating_sub(8_000),
                    end_sample,
                    reported_sample: end_sample,
                });
            }
            truth.push((
                Source {
                    name: format!("case {case}"),
                    duration_s,
                    truth: truth_kind,
                },
                dets,
            ));
        }
        let sources: Vec<Source> = truth.iter().map(|(s, _)| s.clone()).collect();
        let events: Vec<ScoredEvent> = truth
            .iter()
            .enumerate()
            .flat_map(|(id, (_, d))| d.iter().map(move |d| ScoredEvent::from_detection(d, id)))
            .collect();
        let eval = Evaluation::new(&labels, &sources, &events, EvalConfig::default()).unwrap();
        for label in &labels {
            let mut thresholds = vec![0.05f32, 0.5, 0.9];
            thresholds.extend(events.iter().map(|e| e.score));
            let background_s = direct_background(label, &truth);
            for t in thresholds {
                let (positives, hits, fas) = direct_count(label, t, &truth);
                let s = eval.at_threshold(label, t).unwrap();
                assert_eq!(
                    (s.positives, s.hits, s.false_alarms),
                    (positives, hits, fas),
                    "case {case}: {label} at {t}"
                );
                assert!(
                    (s.background_hours * 3600.0 - background_s).abs() < 0.01,
                    "case {case}: {label}: {} h vs {background_s} s",
                    s.background_hours
                );
            }
        }
    }
}
