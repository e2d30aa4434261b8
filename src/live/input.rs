//! The worker's side: frames from the capture ring, downmixed to mono,
//! resampled to 16 kHz and cut into fixed hops for the detector or the flow.

use std::sync::atomic::Ordering;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::LiveError;
use super::capture::CaptureConsumer;
use crate::SAMPLE_RATE;
use crate::audio::f32_to_i16;

/// Hop of [`LiveInput`] unless told otherwise: 1 600 samples (100 ms), the
/// chunk the `send_message` example pushes, so that a live run and a file run
/// of the same audio give the same events.
pub const DEFAULT_HOP: usize = 1_600;

/// Frames taken from the ring per read (bounds the worker's buffers).
const READ_FRAMES: usize = 4_096;

/// Input frames per call of the resampler.
const RESAMPLE_CHUNK: usize = 1_024;

/// What [`LiveInput::pull`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pulled<'a> {
    /// One hop of 16 kHz mono PCM (always `hop` samples, except the last
    /// one before [`Pulled::Ended`], which may be shorter).
    Audio(&'a [i16]),
    /// The callback lost about this many samples (at 16 kHz) since the last
    /// report, somewhere before the audio that follows: tell the flow
    /// ([`crate::intent::MessageFlow::audio_lost`]).
    Lost {
        /// Samples lost, at 16 kHz.
        samples: u64,
    },
    /// Nothing more for now: wait (a fraction of a hop) and pull again.
    Empty,
    /// The input has ended (the producer was dropped or reached its limit)
    /// and everything in the ring was delivered.
    Ended,
}

/// Downmix and resampling state.
#[derive(Debug)]
enum Rate {
    /// The device already runs at 16 kHz.
    Native,
    /// rubato's synchronous FFT resampler, fed [`RESAMPLE_CHUNK`] frames at
    /// a time.
    Resampled {
        resampler: Box<Fft<f32>>,
        /// Mono input waiting for a whole chunk.
        pending: Vec<f32>,
        /// One call's output.
        out: Vec<f32>,
    },
}

/// The worker's end of the live input: pulls what the callback stored,
/// downmixes it (mean of the channels), resamples it to 16 kHz, converts it
/// to `i16` and hands it on in hops of a fixed size.
///
/// # Real-time rules
///
/// `LiveInput` runs on the worker thread, never in the audio callback. Its
/// buffers are all allocated by [`LiveInput::new`]: pulling allocates nothing
/// (`tests/alloc_free.rs`). It never blocks either: [`LiveInput::pull`]
/// returns [`Pulled::Empty`] when the ring is empty, and the worker decides
/// how long to wait (a quarter of a hop keeps the added latency small).
#[derive(Debug)]
pub struct LiveInput {
    capture: CaptureConsumer,
    rate: Rate,
    device_rate: u32,
    hop: usize,
    /// 16 kHz samples not yet handed out; the first `served` were handed out.
    ready: Vec<i16>,
    served: usize,
    lost_reported: u64,
    device_losses_reported: u64,
    ended: bool,
}

impl LiveInput {
    /// The worker's end of `capture`, whose device runs at `device_rate` Hz,
    /// handing out hops of `hop` samples at 16 kHz.
    ///
    /// # Errors
    /// [`LiveError::BadFormat`] for a rate outside 8 kHz..=384 kHz or a hop
    /// outside 1..=16 000; [`LiveError::Resampler`] if rubato refuses the
    /// ratio.
    pub fn new(capture: CaptureConsumer, device_rate: u32, hop: usize) -> Result<Self, LiveError> {
        if !(8_000..=384_000).contains(&device_rate) {
            return Err(LiveError::BadFormat {
                what: "input sample rate (Hz)",
                value: u64::from(device_rate),
            });
        }
        if !(1..=16_000).contains(&hop) {
            return Err(LiveError::BadFormat {
                what: "hop (samples)",
                value: hop as u64,
            });
        }
        let rate = if device_rate == SAMPLE_RATE {
            Rate::Native
        } else {
            let resampler = Fft::<f32>::new(
                device_rate as usize,
                SAMPLE_RATE as usize,
                RESAMPLE_CHUNK,
                1,
                FixedSync::Input,
            )
            .map_err(LiveError::Resampler)?;
            let out = vec![0.0; resampler.output_frames_max()];
            Rate::Resampled {
                resampler: Box::new(resampler),
                pending: Vec::with_capacity(RESAMPLE_CHUNK + READ_FRAMES),
                out,
            }
        };
        // Room for one read's worth of output on top of a hop not yet served.
        let ready_cap = hop + READ_FRAMES * SAMPLE_RATE as usize / device_rate as usize + 2 * 4_096;
        Ok(LiveInput {
            capture,
            rate,
            device_rate,
            hop,
            ready: Vec::with_capacity(ready_cap),
            served: 0,
            lost_reported: 0,
            device_losses_reported: 0,
            ended: false,
        })
    }

    /// The hop in samples at 16 kHz.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Callback buffers dropped whole so far (overruns).
    pub fn overruns(&self) -> u64 {
        self.capture.shared.overruns.load(Ordering::Acquire)
    }

    /// Losses the driver reported ([`super::LossReporter`]) so far.
    pub fn device_losses(&self) -> u64 {
        self.capture.shared.device_losses.load(Ordering::Acquire)
    }

    /// Device frames lost so far.
    pub fn lost_frames(&self) -> u64 {
        self.capture.shared.lost_frames.load(Ordering::Acquire)
    }

    /// Device frames the callback stored in the ring so far.
    pub fn stored_frames(&self) -> u64 {
        self.capture.shared.stored_frames.load(Ordering::Acquire)
    }

    /// Samples (device frames) waiting in the ring.
    pub fn queued_frames(&self) -> usize {
        self.capture.ring.slots() / self.capture.channels
    }

    /// The next thing to hand on: a loss, a hop of audio, nothing yet, or
    /// the end. Call it until it returns [`Pulled::Empty`] or
    /// [`Pulled::Ended`].
    pub fn pull(&mut self) -> Pulled<'_> {
        loop {
            // A loss is reported before any audio read after it.
            let lost = self.lost_frames();
            if lost > self.lost_reported {
                let frames = lost - self.lost_reported;
                self.lost_reported = lost;
                let samples = frames * u64::from(SAMPLE_RATE) / u64::from(self.device_rate);
                return Pulled::Lost { samples };
            }
            let device = self.capture.shared.device_losses.load(Ordering::Acquire);
            if device > self.device_losses_reported {
                self.device_losses_reported = device;
                return Pulled::Lost { samples: 0 };
            }
            if self.ready.len() - self.served >= self.hop {
                let a = self.served;
                self.served += self.hop;
                return Pulled::Audio(&self.ready[a..a + self.hop]);
            }
            // Less than a hop left: move it to the front, then read more.
            self.ready.drain(..self.served);
            self.served = 0;
            if self.ended {
                if self.ready.is_empty() {
                    return Pulled::Ended;
                }
                self.served = self.ready.len();
                return Pulled::Audio(&self.ready[..]);
            }
            let ended = self.capture.shared.ended.load(Ordering::Acquire);
            if self.read() == 0 {
                if ended {
                    self.ended = true;
                    continue;
                }
                return Pulled::Empty;
            }
        }
    }

    /// Read up to [`READ_FRAMES`] frames from the ring into `ready`.
    /// Returns the frames read.
    fn read(&mut self) -> usize {
        let channels = self.capture.channels;
        let frames = (self.capture.ring.slots() / channels).min(READ_FRAMES);
        if frames == 0 {
            return 0;
        }
        let Ok(chunk) = self.capture.ring.read_chunk(frames * channels) else {
            return 0;
        };
        // Both parts hold whole frames: the ring's capacity and every write
        // are whole frames.
        let (a, b) = chunk.as_slices();
        let scale = 1.0 / channels as f32;
        let mono = a
            .chunks_exact(channels)
            .chain(b.chunks_exact(channels))
            .map(|f| f.iter().sum::<f32>() * scale);
        match &mut self.rate {
            Rate::Native => self.ready.extend(mono.map(f32_to_i16)),
            Rate::Resampled {
                resampler,
                pending,
                out,
            } => {
                pending.extend(mono);
                let mut used = 0;
                while pending.len() - used >= resampler.input_frames_next() {
                    let n = resampler.input_frames_next();
                    let input = &pending[used..used + n];
                    let (Ok(inp), Ok(mut outp)) = (
                        InterleavedSlice::new(input, 1, n),
                        InterleavedSlice::new_mut(&mut out[..], 1, resampler.output_frames_max()),
                    ) else {
                        break;
                    };
                    let Ok((consumed, produced)) =
                        resampler.process_into_buffer(&inp, &mut outp, None)
                    else {
                        break;
                    };
                    used += consumed.max(1);
                    self.ready
                        .extend(out[..produced].iter().copied().map(f32_to_i16));
                }
                pending.drain(..used);
            }
        }
        chunk.commit_all();
        frames
    }
}
