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

mod flow_device;

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

/// The live path (issue 15): the audio callback's `CaptureProducer::push`
/// allocates nothing, whether the buffer fits or is dropped (overrun), and
/// neither does the worker's `LiveInput::pull` (downmix, resampling, hops),
/// at 16 kHz mono and at other rates and channel counts.
#[test]
fn the_capture_callback_and_the_workers_pull_do_not_allocate() {
    use wakeguard::live::{LiveInput, Pulled, capture_ring};

    for (rate, channels) in [(16_000u32, 1u16), (48_000, 2), (44_100, 1), (8_000, 6)] {
        let frames = rate as usize / 100; // 10 ms callbacks
        let n = frames * usize::from(channels);
        let buf_i16: Vec<i16> = (0..n)
            .map(|i| ((i as f32 * 0.1).sin() * 8_000.0) as i16)
            .collect();
        let buf_f32: Vec<f32> = buf_i16.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        let (mut producer, consumer) = capture_ring(channels, rate as usize / 2, u64::MAX).unwrap();
        let mut input = LiveInput::new(consumer, rate, 1_600).unwrap();
        let pull_all = |input: &mut LiveInput| {
            let mut got = 0;
            loop {
                match input.pull() {
                    Pulled::Audio(a) => got += a.len(),
                    Pulled::Lost { .. } => {}
                    Pulled::Empty | Pulled::Ended => return got,
                }
            }
        };
        // Warm up: every buffer at its working size.
        for _ in 0..50 {
            producer.push(&buf_i16);
            pull_all(&mut input);
        }
        let before = allocations();
        let mut got = 0;
        for _ in 0..200 {
            producer.push(&buf_i16);
            producer.push(&buf_f32);
            got += pull_all(&mut input);
        }
        // Overruns: the worker does not pull, the ring (0.5 s) fills up.
        for _ in 0..100 {
            producer.push(&buf_i16);
        }
        got += pull_all(&mut input);
        let after = allocations();
        assert_eq!(after - before, 0, "{rate} Hz x {channels}");
        assert!(producer.lost_frames() > 0, "no overrun at {rate} Hz");
        // 4 s of input plus the 0.5 s ring, at 16 kHz (the resampler holds a little).
        assert!(got > 16_000 * 4, "{got} samples at {rate} Hz");
    }
}

/// What the worker allocates per hop of `MessageFlow` (100 ms), idle and
/// during a request, over a bundled request: reported, and bounded so that
/// a regression shows.
#[test]
fn the_workers_allocations_per_hop_are_bounded() {
    use wakeguard::gate::GateStateKind;

    let mut device = flow_device::device("m");
    let pcm = wakeguard::audio::read_wav(flow_device::flows_dir("m").join("yes.wav"))
        .unwrap()
        .to_i16();
    let mut events = Vec::new();
    let (mut idle, mut busy) = (Vec::new(), Vec::new());
    let silence = vec![0i16; 1_600 * 50];
    for hop in pcm.chunks_exact(1_600).chain(silence.chunks_exact(1_600)) {
        let state = device.flow().gate().state();
        let before = allocations();
        let message = device.push(hop, &mut events).unwrap();
        let n = allocations() - before;
        drop(message);
        events.clear();
        if state == GateStateKind::Idle {
            idle.push(n);
        } else {
            busy.push(n);
        }
    }
    let stats = |v: &mut Vec<usize>| {
        v.sort_unstable();
        (
            v[0],
            v[v.len() - 1],
            v.iter().sum::<usize>() as f64 / v.len() as f64,
        )
    };
    let (idle_min, idle_max, idle_mean) = stats(&mut idle);
    let (busy_min, busy_max, busy_mean) = stats(&mut busy);
    eprintln!(
        "allocations per 100 ms hop: idle min {idle_min}, mean {idle_mean:.1}, max {idle_max} ({} hops); \
         during the request min {busy_min}, mean {busy_mean:.1}, max {busy_max} ({} hops)",
        idle.len(),
        busy.len()
    );
    assert!(idle.len() > 40 && busy.len() > 40);
    // Every other hop runs the network (about 250 allocations inside tract,
    // see above); the flow's own share is small.
    assert!(
        idle_min <= 8,
        "idle hops without a network run allocate {idle_min}"
    );
    assert!(
        idle_mean <= 140.0,
        "idle hops allocate {idle_mean:.1} on average"
    );
    assert!(
        busy_mean <= 200.0,
        "busy hops allocate {busy_mean:.1} on average"
    );
}
