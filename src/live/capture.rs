//! The audio callback's side: a preallocated lock-free single-producer,
//! single-consumer ring ([`rtrb`]) between the callback and the worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rtrb::{Consumer, Producer, RingBuffer};

use super::LiveError;

/// Longest ring accepted by [`capture_ring`]: 60 s of 8 channels at 192 kHz
/// (about 370 MB of `f32`). Anything longer is a configuration error.
pub const MAX_RING_SAMPLES: usize = 60 * 8 * 192_000;

/// A sample format an audio callback may deliver; converted to `f32` in
/// `[-1, 1]` as it is copied into the ring.
pub trait InputSample: Copy + Send + 'static {
    /// The sample as `f32`, full scale 1.0.
    fn to_f32(self) -> f32;
}

impl InputSample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
}

impl InputSample for f64 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl InputSample for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self) / 32_768.0
    }
}

impl InputSample for i32 {
    #[inline]
    fn to_f32(self) -> f32 {
        (self as f64 / 2_147_483_648.0) as f32
    }
}

impl InputSample for i8 {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self) / 128.0
    }
}

impl InputSample for u16 {
    #[inline]
    fn to_f32(self) -> f32 {
        (f32::from(self) - 32_768.0) / 32_768.0
    }
}

impl InputSample for u8 {
    #[inline]
    fn to_f32(self) -> f32 {
        (f32::from(self) - 128.0) / 128.0
    }
}

/// Counters shared by the two ends.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Frames the callback could not store (the ring was full).
    pub(super) lost_frames: AtomicU64,
    /// Callback buffers dropped whole for want of room.
    pub(super) overruns: AtomicU64,
    /// Frames stored in the ring since the start.
    pub(super) stored_frames: AtomicU64,
    /// Losses reported by the driver ([`LossReporter`]).
    pub(super) device_losses: AtomicU64,
    /// The input has ended (the producer was dropped or reached its limit).
    pub(super) ended: AtomicBool,
}

/// Reports audio the driver lost (an overrun inside the device, an xrun
/// reported to cpal's error callback). Cheap to clone; [`LossReporter::report`]
/// is one atomic add, safe in any callback.
#[derive(Debug, Clone)]
pub struct LossReporter {
    shared: Arc<Shared>,
}

impl LossReporter {
    /// Some audio of unknown length was lost before what the callback stores
    /// next.
    pub fn report(&self) {
        self.shared.device_losses.fetch_add(1, Ordering::Release);
    }
}

/// The callback's end of the capture ring. Made by [`capture_ring`].
///
/// # Real-time rules
///
/// [`CaptureProducer::push`] is the only thing an audio callback should call.
/// It never allocates, locks, logs or makes a system call: it converts each
/// sample to `f32` into slots preallocated when the ring was made, and
/// publishes them with one atomic store. When the ring has no room for the
/// whole buffer (the worker fell behind), the buffer is dropped whole and
/// counted, never partly written; the worker reports the loss
/// ([`super::Pulled::Lost`]) and the request in progress is cancelled.
#[derive(Debug)]
pub struct CaptureProducer {
    ring: Producer<f32>,
    channels: usize,
    limit_frames: u64,
    taken_frames: u64,
    shared: Arc<Shared>,
}

/// The worker's end of the capture ring: see [`super::LiveInput`], which
/// wraps it.
#[derive(Debug)]
pub struct CaptureConsumer {
    pub(super) ring: Consumer<f32>,
    pub(super) channels: usize,
    pub(super) shared: Arc<Shared>,
}

/// A capture ring for `channels` interleaved channels holding
/// `capacity_frames` frames. After `limit_frames` frames (`u64::MAX`: no
/// limit) the producer ignores further input and the input counts as ended.
///
/// # Errors
/// [`LiveError::BadFormat`] for 0 channels, a capacity of 0 frames, or one
/// above [`MAX_RING_SAMPLES`] samples.
pub fn capture_ring(
    channels: u16,
    capacity_frames: usize,
    limit_frames: u64,
) -> Result<(CaptureProducer, CaptureConsumer), LiveError> {
    let samples = capacity_frames.checked_mul(usize::from(channels));
    let samples = match samples {
        Some(n) if n > 0 && n <= MAX_RING_SAMPLES => n,
        _ => {
            return Err(LiveError::BadFormat {
                what: "capture ring size (channels x frames)",
                value: (capacity_frames as u64).saturating_mul(u64::from(channels)),
            });
        }
    };
    let (producer, consumer) = RingBuffer::new(samples);
    let shared = Arc::new(Shared::default());
    Ok((
        CaptureProducer {
            ring: producer,
            channels: usize::from(channels),
            limit_frames,
            taken_frames: 0,
            shared: Arc::clone(&shared),
        },
        CaptureConsumer {
            ring: consumer,
            channels: usize::from(channels),
            shared,
        },
    ))
}

impl CaptureProducer {
    /// Copy one callback buffer of interleaved frames into the ring (see the
    /// real-time rules above). A trailing partial frame is ignored.
    pub fn push<S: InputSample>(&mut self, interleaved: &[S]) {
        let remaining = self.limit_frames - self.taken_frames;
        if remaining == 0 {
            return;
        }
        let frames = (interleaved.len() / self.channels).min(remaining as usize);
        if frames == 0 {
            return;
        }
        self.taken_frames += frames as u64;
        let n = frames * self.channels;
        match self.ring.write_chunk_uninit(n) {
            Ok(chunk) => {
                chunk.fill_from_iter(interleaved[..n].iter().map(|s| s.to_f32()));
                self.shared
                    .stored_frames
                    .fetch_add(frames as u64, Ordering::Release);
            }
            Err(_) => {
                self.shared
                    .lost_frames
                    .fetch_add(frames as u64, Ordering::Release);
                self.shared.overruns.fetch_add(1, Ordering::Release);
            }
        }
        if self.taken_frames == self.limit_frames {
            self.shared.ended.store(true, Ordering::Release);
        }
    }

    /// A handle for the driver's error callback.
    pub fn loss_reporter(&self) -> LossReporter {
        LossReporter {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Frames lost so far for want of room.
    pub fn lost_frames(&self) -> u64 {
        self.shared.lost_frames.load(Ordering::Acquire)
    }
}

impl Drop for CaptureProducer {
    fn drop(&mut self) {
        self.shared.ended.store(true, Ordering::Release);
    }
}
