//! After construction, pushing audio into an `MfccStream` performs no heap
//! allocation. A counting global allocator observes every allocation made
//! by this test binary; this file holds a single test so no other test
//! thread allocates concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
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
        let at_start = ALLOCATIONS.load(Ordering::SeqCst);
        let mut stream = MfccStream::new(plan, 100).unwrap();
        // The counter sees construction (which does allocate): it is live.
        assert!(ALLOCATIONS.load(Ordering::SeqCst) > at_start);
        let pcm_i16: Vec<i16> = (0..16_000)
            .map(|i| ((i as f32 * 0.05).sin() * 10_000.0) as i16)
            .collect();
        let pcm_f32: Vec<f32> = pcm_i16.iter().map(|&s| s as f32 / 32768.0).collect();
        let mut sum = 0.0f32;

        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let mut frames = 0;
        for chunk in pcm_i16.chunks(317) {
            frames += stream.push_with(chunk, |_, f| sum += f[1]).unwrap();
        }
        for chunk in pcm_f32.chunks(160) {
            frames += stream.push(chunk).unwrap();
        }
        let window_len = stream.ring().window().len();
        let after = ALLOCATIONS.load(Ordering::SeqCst);

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
