//! After construction, pushing audio into an `MfccStream` performs no heap
//! allocation. A counting global allocator counts the allocations made by
//! the test's own thread (the test harness's threads allocate on their own
//! schedule and are not counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may be gone while the thread shuts down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pushing_audio_does_not_allocate() {
    for config in [
        MfccConfig::kaldi(),
        MfccConfig::wakeguard_v1(),
        MfccConfig {
            dither: 1.0,
            use_energy: true,
            ..MfccConfig::kaldi()
        },
    ] {
        let plan = Arc::new(MfccPlan::new(config).unwrap());
        let at_start = allocations();
        let mut stream = MfccStream::new(plan, 100).unwrap();
        // The counter sees construction (which does allocate): it is live.
        assert!(allocations() > at_start);
        let pcm_i16: Vec<i16> = (0..16_000)
            .map(|i| ((i as f32 * 0.05).sin() * 10_000.0) as i16)
            .collect();
        let pcm_f32: Vec<f32> = pcm_i16.iter().map(|&s| s as f32 / 32768.0).collect();
        let mut sum = 0.0f32;

        let before = allocations();
        let mut frames = 0;
        for chunk in pcm_i16.chunks(317) {
            frames += stream.push_with(chunk, |_, f| sum += f[1]).unwrap();
        }
        for chunk in pcm_f32.chunks(160) {
            frames += stream.push(chunk).unwrap();
        }
        let window_len = stream.ring().window().len();
        let after = allocations();

        assert!(frames > 190, "only {frames} frames");
        assert!(window_len > 0 && sum.is_finite());
        assert_eq!(
            after - before,
            0,
            "{} allocations while pushing",
            after - before
        );
    }
}

/// The detector runs the network once per `chunk_frames` frames; the hops in
/// between (front end, buffering) allocate nothing. The chunk that runs
/// the network allocates inside tract (its output tensors); that count is
/// bounded and does not grow with the stream.
#[test]
fn detector_hops_between_network_runs_do_not_allocate() {
    use wakeguard::detector::Detector;

    let mut detector = Detector::with_default_model().unwrap();
    let chunk = detector.model().chunk_frames();
    assert!(200 % chunk == 0, "chunk of {chunk} frames");
    let hop: Vec<i16> = (0..160)
        .map(|i| ((i as f32 * 0.3).sin() * 3_000.0) as i16)
        .collect();
    // Warm up: a few seconds so that every buffer has reached its size.
    for _ in 0..300 {
        detector.push(&hop, |_| {}).unwrap();
    }
    let mut quiet_hops = 0;
    let mut per_run = Vec::new();
    for _ in 0..200 {
        let before = allocations();
        detector.push(&hop, |_| {}).unwrap();
        let n = allocations() - before;
        if n == 0 {
            quiet_hops += 1;
        } else {
            per_run.push(n);
        }
    }
    // 200 hops = 200 / chunk network runs; the other hops allocate nothing.
    assert_eq!(per_run.len(), 200 / chunk, "{per_run:?}");
    assert_eq!(quiet_hops, 200 - 200 / chunk);
    let first = per_run[0];
    assert!(per_run.iter().all(|&n| n == first), "{per_run:?}");
    eprintln!("allocations per network run (inside tract): {first}");
}
