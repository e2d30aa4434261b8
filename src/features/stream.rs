//! [`MfccStream`]: per-stream state of the front end. Push PCM in chunks of
//! any size; every completed frame goes to a callback and into a
//! [`FeatureRing`].

use std::sync::Arc;

use super::plan::{FrameScratch, MfccPlan};
use super::ring::FeatureRing;
use crate::error::Error;

/// A PCM sample type the front end accepts. Sealed: implemented for `i16`
/// (used as is, int16 scale) and `f32` (expected in `[-1.0, 1.0]`,
/// multiplied by 32768 so that both types give identical features for the
/// same audio).
pub trait PcmSample: Copy + sealed::Sealed {
    /// The sample in int16 scale (`f64`, so no finite input overflows).
    fn to_int16_scale(self) -> f64;
    /// False for NaN or infinite values.
    fn is_finite_sample(self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i16 {}
    impl Sealed for f32 {}
}

impl PcmSample for i16 {
    #[inline]
    fn to_int16_scale(self) -> f64 {
        self as f64
    }
    #[inline]
    fn is_finite_sample(self) -> bool {
        true
    }
}

impl PcmSample for f32 {
    #[inline]
    fn to_int16_scale(self) -> f64 {
        self as f64 * 32768.0
    }
    #[inline]
    fn is_finite_sample(self) -> bool {
        self.is_finite()
    }
}

/// Seeded Gaussian source for dither: splitmix64 + Box–Muller.
#[derive(Debug, Clone)]
struct Gaussian {
    state: u64,
    spare: Option<f32>,
}

impl Gaussian {
    fn new(seed: u64) -> Self {
        Gaussian {
            state: seed,
            spare: None,
        }
    }
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        // 53 random bits in (0, 1].
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f32 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * self.uniform();
        self.spare = Some((r * theta.sin()) as f32);
        (r * theta.cos()) as f32
    }
}

/// Streaming MFCC extractor: one per audio stream.
///
/// # Real-time considerations
/// All buffers (pending samples, FFT scratch, ring) are allocated in
/// [`MfccStream::new`]. After that, [`push`](Self::push) and
/// [`push_with`](Self::push_with) perform no heap allocation, take no locks
/// and do work proportional to the number of samples pushed (one FFT per
/// completed frame). They are safe to call from an audio callback.
///
/// # Bad samples
/// A chunk containing a NaN or infinite `f32` sample is rejected whole with
/// [`Error::NonFiniteSample`]: nothing of it is consumed, the stream state is
/// unchanged, and the caller decides whether to skip the chunk or reset.
/// NaN never reaches the features.
#[derive(Debug)]
pub struct MfccStream {
    plan: Arc<MfccPlan>,
    /// Samples of the frame being assembled, int16 scale. Always `frame_len` long.
    pending: Vec<f64>,
    filled: usize,
    scratch: FrameScratch,
    out: Vec<f32>,
    ring: FeatureRing,
    rng: Gaussian,
    frames: u64,
    samples: u64,
}

impl MfccStream {
    /// A stream over `plan` keeping the last `ring_frames` frames.
    pub fn new(plan: Arc<MfccPlan>, ring_frames: usize) -> Result<Self, Error> {
        let ring = FeatureRing::new(plan.n_features(), ring_frames)?;
        Ok(MfccStream {
            pending: vec![0.0; plan.frame_len()],
            filled: 0,
            scratch: plan.make_scratch(),
            out: vec![0.0; plan.n_features()],
            ring,
            rng: Gaussian::new(plan.config().dither_seed),
            frames: 0,
            samples: 0,
            plan,
        })
    }

    /// The shared plan.
    pub fn plan(&self) -> &Arc<MfccPlan> {
        &self.plan
    }

    /// The most recent frames.
    pub fn ring(&self) -> &FeatureRing {
        &self.ring
    }

    /// Frames produced since construction or [`reset`](Self::reset).
    pub fn frames_emitted(&self) -> u64 {
        self.frames
    }

    /// Samples consumed since construction or [`reset`](Self::reset).
    pub fn samples_consumed(&self) -> u64 {
        self.samples
    }

    /// Forget all audio and frames; the next sample starts frame 0. The
    /// dither generator restarts from its seed.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.frames = 0;
        self.samples = 0;
        self.ring.clear();
        self.rng = Gaussian::new(self.plan.config().dither_seed);
    }

    /// Push samples; completed frames go into the ring only. Returns the
    /// number of frames completed.
    pub fn push<S: PcmSample>(&mut self, pcm: &[S]) -> Result<usize, Error> {
        self.push_with(pcm, |_, _| {})
    }

    /// Push samples and call `on_frame(frame_index, cepstra)` for every
    /// completed frame, in order, after it has been appended to the ring.
    /// Returns the number of frames completed.
    pub fn push_with<S: PcmSample>(
        &mut self,
        pcm: &[S],
        mut on_frame: impl FnMut(u64, &[f32]),
    ) -> Result<usize, Error> {
        if let Some(index) = pcm.iter().position(|s| !s.is_finite_sample()) {
            return Err(Error::NonFiniteSample { index });
        }
        let frame_len = self.pending.len();
        let hop = self.plan.hop_len();
        let mut produced = 0;
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (frame_len - self.filled).min(rest.len());
            for (dst, src) in self.pending[self.filled..self.filled + take]
                .iter_mut()
                .zip(&rest[..take])
            {
                *dst = src.to_int16_scale();
            }
            self.filled += take;
            self.samples += take as u64;
            rest = &rest[take..];
            if self.filled == frame_len {
                let rng = &mut self.rng;
                self.plan.compute_frame(
                    &self.pending,
                    &mut self.scratch,
                    &mut || rng.sample(),
                    &mut self.out,
                )?;
                self.ring.push(&self.out)?;
                on_frame(self.frames, &self.out);
                self.frames += 1;
                produced += 1;
                self.pending.copy_within(hop.., 0);
                self.filled = frame_len - hop;
            }
        }
        Ok(produced)
    }
}

/// A matrix of feature frames, row-major (`frames × dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Values per frame.
    pub dim: usize,
    /// `frames × dim` values.
    pub data: Vec<f32>,
}

impl FeatureMatrix {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
    /// Frame `i`.
    pub fn frame(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }
    /// Iterate over frames.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim.max(1))
    }
}

/// Offline convenience: the features of a whole clip. Allocates; for
/// streaming use [`MfccStream`].
pub fn mfcc<S: PcmSample>(plan: &Arc<MfccPlan>, pcm: &[S]) -> Result<FeatureMatrix, Error> {
    let mut stream = MfccStream::new(Arc::clone(plan), 1)?;
    let dim = plan.n_features();
    let mut data = Vec::with_capacity(plan.frames_for(pcm.len()) * dim);
    stream.push_with(pcm, |_, f| data.extend_from_slice(f))?;
    Ok(FeatureMatrix { dim, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::MfccConfig;

    #[test]
    fn nan_chunk_is_rejected_without_consuming() {
        let plan = Arc::new(MfccPlan::new(MfccConfig::kaldi()).unwrap());
        let mut s = MfccStream::new(plan, 4).unwrap();
        s.push(&[0.1f32; 100]).unwrap();
        let err = s.push(&[0.0f32, 0.2, f32::NAN, 0.0]).unwrap_err();
        assert!(matches!(err, Error::NonFiniteSample { index: 2 }));
        assert_eq!(s.samples_consumed(), 100);
        assert!(matches!(
            s.push(&[f32::INFINITY]),
            Err(Error::NonFiniteSample { index: 0 })
        ));
    }

    #[test]
    fn frame_count_follows_snip_edges() {
        let plan = Arc::new(MfccPlan::new(MfccConfig::kaldi()).unwrap());
        let f = mfcc(&plan, &vec![0i16; 399]).unwrap();
        assert_eq!(f.frames(), 0);
        let f = mfcc(&plan, &vec![0i16; 400 + 160 * 5 + 159]).unwrap();
        assert_eq!(f.frames(), 6);
        assert_eq!(plan.frames_for(400 + 160 * 5 + 159), 6);
    }

    #[test]
    fn i16_and_f32_inputs_agree() {
        let plan = Arc::new(MfccPlan::new(MfccConfig::wakeguard_v1()).unwrap());
        let pcm: Vec<i16> = (0..4000)
            .map(|i| ((i as f32 * 0.07).sin() * 8000.0) as i16)
            .collect();
        let as_f32: Vec<f32> = pcm.iter().map(|&s| s as f32 / 32768.0).collect();
        let a = mfcc(&plan, &pcm).unwrap();
        let b = mfcc(&plan, &as_f32).unwrap();
        assert_eq!(a.frames(), b.frames());
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn dither_is_seeded() {
        let cfg = MfccConfig {
            dither: 1.0,
            dither_seed: 7,
            ..MfccConfig::kaldi()
        };
        let plan = Arc::new(MfccPlan::new(cfg).unwrap());
        let silence = vec![0i16; 1600];
        let a = mfcc(&plan, &silence).unwrap();
        let b = mfcc(&plan, &silence).unwrap();
        assert_eq!(a, b);
        // Dither lifts digital silence above the log floor.
        assert!(a.data[0] > f32::EPSILON.ln() * 23f32.sqrt() + 1.0);
        let other = Arc::new(
            MfccPlan::new(MfccConfig {
                dither: 1.0,
                dither_seed: 8,
                ..MfccConfig::kaldi()
            })
            .unwrap(),
        );
        assert_ne!(a, mfcc(&other, &silence).unwrap());
    }
}
