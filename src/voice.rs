//! Who is answering: a voice vector of one utterance, to check that the
//! "yes" comes from the voice that made the request (issue 18).
//!
//! It runs **twice per request** and never on the always-on stream: once on
//! the request (the speech before the spoken name's end) and once on the
//! answer. [`MessageFlow`](crate::intent::MessageFlow) does that when
//! [`GateConfig::voice_check`](crate::gate::GateConfig::voice_check) is
//! [`VoiceCheck::Required`](crate::gate::VoiceCheck::Required), and hands
//! the gate the [`VoicePrint::similarity`] of the two with the answer; the
//! gate cancels a "yes" whose similarity is below the threshold.
//!
//! # How well it tells voices apart
//! Not well enough to be on by default. Measured 5-fold over the 128 Speech
//! Commands speakers (a request of three other words against the speaker's
//! own "yes", `models/train/voice_head.py`): equal error rate 11.4 % clean
//! (9.2–14.0 % per fold), 14.4 % in noise at 10–20 dB; at the default
//! threshold [`DEFAULT_MIN_SIMILARITY`], which keeps 95 % of same-speaker
//! answers, about one other speaker's answer in five passes too, and most
//! recordings of the same speaker replayed from another device. README,
//! "Who is answering", has the table. Each of those speakers recorded on
//! their own device, so part of what is told apart there is the microphone,
//! which in a room is the same for every voice: expect worse.
//!
//! # The features
//! Exactly those of `models/train/voice_head.py` (`--features mel+pitch`, the
//! specification; `tests/voice.rs` checks the two agree on
//! `testdata/golden/voice_golden.json`):
//! 1. speech bounds as in [`crate::answer::speech_cut`]: 10 ms frames, a
//!    frame is active at an RMS of at least max(0.1 × the loudest frame's,
//!    20); no active frame → no voice (`Ok(None)`);
//! 2. the speech region, [`PAD`] samples before the first active frame to
//!    `PAD` after the last, clipped to the recording, in at most
//!    [`MAX_PIECES`] pieces of [`MAX_CUT`] samples from its start (so at
//!    most 3.8 s is read, however long the recording);
//! 3. each piece in a [`WINDOW`]-sample zero buffer from sample `PAD` on,
//!    through Google's speech_embedding mel front end (32 bins every 10 ms,
//!    read as `v / 10 + 2`, as the answer scorer does);
//! 4. the mel frames of the active 10 ms frames only; their mean and
//!    standard deviation per bin (64 values);
//! 5. pitch, from the active 10 ms frames `q` whose start lies in the
//!    region read: the [`PITCH_FRAME`] samples from `160 q - 240` (those
//!    that fit in the recording), minus their mean; autocorrelation `ac`;
//!    `r(l) = ac(l) / (ac(0) + 1e-9)` over [`PITCH_LAGS`] (not corrected
//!    for the overlap's length, so that of the period's multiples the
//!    shortest wins); voiced when the largest `r` (first lag on ties)
//!    exceeds [`PITCH_VOICED`], its `F0 = 16000 / lag`. The three values:
//!    the median and the interquartile range of `ln F0` over the voiced
//!    frames (linear interpolation, as numpy's percentiles), and the share
//!    of frames voiced; `(ln 150, 0, 0)` with fewer than 3 voiced frames.
//!
//! [`N_FEATURES`] values in all.
//!
//! The voice vector: the projection head (`models/voice_head.onnx`,
//! subtract the training mean, multiply by a linear discriminant matrix,
//! [`N_FEATURES`] → [`VOICE_DIM`]), divided by its length. The similarity
//! of two vectors is their dot product, in `[-1, 1]`.
//!
//! # Cost
//! One mel spectrogram per piece (two at most), one 2048-point FFT pair per
//! active 10 ms frame for the pitch (at most 380), a 67 × 24 product:
//! 6.5 ms for a 3.8 s request, 2.7 ms for a short answer on one core
//! (`cargo bench --bench voice`, 2026-12-02). Buffers are owned and sized
//! once; the models are planned once. Only tract's own input and output
//! tensors are allocated per call.
//!
//! # Privacy
//! A [`VoicePrint`] describes a voice; it is wiped when dropped, never
//! written to the audit log (only the similarity is), and never leaves the
//! library unless the application copies it out.

use std::fmt;
use std::sync::{Arc, OnceLock};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use zeroize::Zeroize;

use crate::answer::{self, ActiveFrames, FRAME, MEL_BINS, MEL_FRAMES, Plan, Stage};
use crate::error::{Error, ModelError};

pub use crate::answer::{MAX_CUT, PAD, WINDOW};

/// The embedded projection head (trained by `models/train/voice_head.py`).
pub const EMBEDDED_VOICE_HEAD: &[u8] = include_bytes!("../models/voice_head.onnx");
/// Most pieces of [`MAX_CUT`] samples read from one utterance.
pub const MAX_PIECES: usize = 2;
/// Features given to the head: the mean, then the standard deviation, of
/// the active mel frames, then the three pitch values.
pub const N_FEATURES: usize = 2 * MEL_BINS + 3;
/// Samples of a pitch frame (40 ms), from 240 samples before an active
/// 10 ms frame's start.
pub const PITCH_FRAME: usize = 640;
/// Lags searched for the pitch period: 40 to 320 samples (400 to 50 Hz).
pub const PITCH_LAGS: std::ops::RangeInclusive<usize> = 40..=320;
/// A pitch frame is voiced when its best normalised autocorrelation
/// exceeds this.
pub const PITCH_VOICED: f64 = 0.5;
/// FFT length of the pitch autocorrelation (exact for [`PITCH_FRAME`]).
const PITCH_FFT: usize = 2048;
/// Values of a voice vector.
pub const VOICE_DIM: usize = 24;
/// The similarity that kept 95 % of same-speaker answers in the k-fold
/// measurement (pooled over the held-out folds, clean), for
/// [`VoiceCheck::Required`](crate::gate::VoiceCheck::Required).
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.211;

/// The voice of one utterance: a unit vector of [`VOICE_DIM`] values, wiped
/// when dropped. Its `Debug` does not print the values.
#[derive(Clone, PartialEq)]
pub struct VoicePrint([f32; VOICE_DIM]);

impl VoicePrint {
    /// The values.
    pub fn values(&self) -> &[f32; VOICE_DIM] {
        &self.0
    }

    /// Cosine similarity with another voice, in `[-1, 1]`.
    pub fn similarity(&self, other: &VoicePrint) -> f32 {
        let dot: f32 = self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum();
        dot.clamp(-1.0, 1.0)
    }
}

impl Drop for VoicePrint {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for VoicePrint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VoicePrint(..)")
    }
}

/// The two models: the mel front end and the projection head.
struct Models {
    mel: Plan,
    head: Plan,
}

impl Models {
    fn load_head(head: &[u8]) -> Result<Plan, ModelError> {
        Plan::load(
            head,
            "voice head",
            &[1, N_FEATURES],
            |s| {
                if s == [1, VOICE_DIM] {
                    Ok(())
                } else {
                    Err(format!("expected [1, {VOICE_DIM}]"))
                }
            },
            false,
        )
    }

    /// The embedded models, planned once per process.
    fn shared() -> Result<&'static Arc<Models>, Error> {
        static MODELS: OnceLock<Result<Arc<Models>, ModelError>> = OnceLock::new();
        let mel = answer::shared_mel()?;
        MODELS
            .get_or_init(|| {
                Ok(Arc::new(Models {
                    mel,
                    head: Self::load_head(EMBEDDED_VOICE_HEAD)?,
                }))
            })
            .as_ref()
            .map_err(|e| e.clone().into())
    }
}

/// The voice model: the mel front end and the projection head, planned
/// once, and the buffers of one call. `voice` takes `&mut self`: keep one
/// per stream and reuse it.
pub struct VoiceModel {
    models: Arc<Models>,
    mel: Stage,
    head: Stage,
    /// Per-bin sums and sums of squares of the active mel frames.
    sums: [f64; 2 * MEL_BINS],
    /// The features of the last call.
    features: [f32; N_FEATURES],
    /// Activity of each 10 ms frame of the recording's region read.
    active: Vec<bool>,
    /// The pitch autocorrelation's FFTs (planned once) and buffers.
    pitch_fwd: Arc<dyn RealToComplex<f64>>,
    pitch_inv: Arc<dyn ComplexToReal<f64>>,
    pitch_frame: Vec<f64>,
    pitch_spec: Vec<Complex<f64>>,
    pitch_ac: Vec<f64>,
    pitch_scratch: Vec<Complex<f64>>,
    /// ln F0 of the voiced frames of the last call.
    log_f0: Vec<f64>,
}

impl fmt::Debug for VoiceModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceModel").finish_non_exhaustive()
    }
}

impl VoiceModel {
    /// The embedded models, parsed, optimised and planned once per process
    /// and shared (the mel front end also with the answer scorer).
    pub fn shared_embedded() -> Result<Self, Error> {
        Self::with_models(Models::shared()?)
    }

    /// Load from ONNX bytes: `mel` takes f32 `[1, 40000]` and gives
    /// `247 × 32` values (speech_embedding's `melspectrogram.onnx`); `head`
    /// takes f32 `[1, 67]` and gives `[1, 24]`. Anything else is an
    /// [`Error::Model`], never a panic.
    pub fn from_bytes(mel: &[u8], head: &[u8]) -> Result<Self, Error> {
        let models = crate::model::catch_tract_panic("voice model", || {
            Ok(Models {
                mel: answer::load_mel(mel)?,
                head: Models::load_head(head)?,
            })
        })?;
        Self::with_models(&Arc::new(models))
    }

    /// Another model of the same plans with its own buffers.
    pub fn try_clone(&self) -> Result<Self, Error> {
        Self::with_models(&self.models)
    }

    fn with_models(models: &Arc<Models>) -> Result<Self, Error> {
        let mut planner = RealFftPlanner::<f64>::new();
        let pitch_fwd = planner.plan_fft_forward(PITCH_FFT);
        let pitch_inv = planner.plan_fft_inverse(PITCH_FFT);
        let scratch = pitch_fwd.get_scratch_len().max(pitch_inv.get_scratch_len());
        Ok(VoiceModel {
            pitch_frame: pitch_fwd.make_input_vec(),
            pitch_spec: pitch_fwd.make_output_vec(),
            pitch_ac: pitch_inv.make_output_vec(),
            pitch_scratch: vec![Complex::default(); scratch],
            pitch_fwd,
            pitch_inv,
            log_f0: Vec::with_capacity(MAX_PIECES * MAX_CUT / FRAME + 1),
            models: Arc::clone(models),
            mel: Stage::new(&models.mel)?,
            head: Stage::new(&models.head)?,
            sums: [0.0; 2 * MEL_BINS],
            features: [0.0; N_FEATURES],
            active: Vec::with_capacity(MAX_PIECES * MAX_CUT / FRAME + 1),
        })
    }

    /// The voice of one utterance (16 kHz mono), or `Ok(None)` when it
    /// holds no active frame. Any slice is valid, of any length; at most
    /// [`MAX_PIECES`] × [`MAX_CUT`] samples of its speech are read.
    pub fn voice(&mut self, pcm: &[i16]) -> Result<Option<VoicePrint>, Error> {
        if !self.compute_features(pcm)? {
            return Ok(None);
        }
        let features = &self.features;
        self.head.fill_input(|x| x.copy_from_slice(features))?;
        let mut v = self
            .head
            .run(|y| {
                y.get(..VOICE_DIM)
                    .and_then(|y| <[f32; VOICE_DIM]>::try_from(y).ok())
            })?
            .ok_or_else(|| self.head.inference_error("fewer than 24 outputs"))?;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::MIN_POSITIVE {
            v.zeroize();
            return Err(self.head.inference_error("a voice vector of no length"));
        }
        for x in &mut v {
            *x /= norm;
        }
        let print = VoicePrint(v);
        v.zeroize();
        Ok(Some(print))
    }

    /// The [`N_FEATURES`] values the head sees, or `Ok(None)` as in
    /// [`voice`](Self::voice). For golden tests and evaluation.
    pub fn features(&mut self, pcm: &[i16]) -> Result<Option<[f32; N_FEATURES]>, Error> {
        Ok(self.compute_features(pcm)?.then_some(self.features))
    }

    /// Fill `self.features`; false when there is no active frame.
    fn compute_features(&mut self, pcm: &[i16]) -> Result<bool, Error> {
        let Some(ActiveFrames { level, first, last }) = answer::active_frames(pcm) else {
            return Ok(false);
        };
        let a = (first * FRAME).saturating_sub(PAD);
        let b = ((last + 1) * FRAME + PAD).min(pcm.len());
        let end = b.min(a + MAX_PIECES * MAX_CUT);
        // Activity of every whole frame whose start lies in a..end (a is a
        // multiple of FRAME: 0, or an active frame's start minus PAD): every
        // active frame of the region read, the ones the pitch is taken from.
        self.active.clear();
        self.active.extend(
            pcm[a..]
                .chunks_exact(FRAME)
                .take(end.div_ceil(FRAME) - a / FRAME)
                .map(|f| answer::frame_level(f) >= level),
        );

        self.sums.fill(0.0);
        let mut count = 0usize;
        for k in 0..MAX_PIECES {
            let start = a + k * MAX_CUT;
            if start >= end {
                break;
            }
            let piece = &pcm[start..end.min(start + MAX_CUT)];
            self.mel.fill_input(|buffer| {
                buffer.fill(0.0);
                for (d, &s) in buffer[PAD..].iter_mut().zip(piece) {
                    *d = f32::from(s);
                }
            })?;
            let first_frame = (start - a) / FRAME;
            let n_frames = piece.len().div_ceil(FRAME);
            let active = &self.active;
            let sums = &mut self.sums;
            count += self.mel.run(|spec| {
                let mut n = 0;
                for i in 0..n_frames {
                    let j = (PAD + i * FRAME) / FRAME;
                    if j >= MEL_FRAMES || !active.get(first_frame + i).copied().unwrap_or(false) {
                        continue;
                    }
                    let row = &spec[j * MEL_BINS..(j + 1) * MEL_BINS];
                    let (s1, s2) = sums.split_at_mut(MEL_BINS);
                    for ((m, q), &v) in s1.iter_mut().zip(s2.iter_mut()).zip(row) {
                        let v = f64::from(v / 10.0 + 2.0);
                        *m += v;
                        *q += v * v;
                    }
                    n += 1;
                }
                n
            })?;
        }
        if count == 0 {
            return Ok(false);
        }
        let n = count as f64;
        let (mean, rest) = self.features.split_at_mut(MEL_BINS);
        let (std, _) = rest.split_at_mut(MEL_BINS);
        for b in 0..MEL_BINS {
            let m = self.sums[b] / n;
            let var = (self.sums[MEL_BINS + b] / n - m * m).max(0.0);
            mean[b] = m as f32;
            std[b] = var.sqrt() as f32;
        }
        self.sums.fill(0.0);
        let pitch = self.pitch(pcm, a)?;
        self.features[2 * MEL_BINS..].copy_from_slice(&pitch.map(|v| v as f32));
        Ok(true)
    }

    /// The three pitch values (module docs, step 5); `a` is the region's
    /// start, `self.active` the activity from there.
    fn pitch(&mut self, pcm: &[i16], a: usize) -> Result<[f64; 3], Error> {
        let fft_error =
            |e: realfft::FftError| Error::Model(ModelError::Inference(format!("voice pitch: {e}")));
        self.log_f0.clear();
        let mut frames = 0usize;
        let first = a / FRAME;
        for (i, &on) in self.active.iter().enumerate() {
            // Every frame here starts before a + MAX_PIECES * MAX_CUT.
            let q = first + i;
            if !on {
                continue;
            }
            let Some(lo) = (q * FRAME).checked_sub(240) else {
                continue;
            };
            let Some(frame) = pcm.get(lo..lo + PITCH_FRAME) else {
                continue;
            };
            frames += 1;
            let mean = frame.iter().map(|&s| f64::from(s)).sum::<f64>() / PITCH_FRAME as f64;
            self.pitch_frame.fill(0.0);
            for (d, &s) in self.pitch_frame.iter_mut().zip(frame) {
                *d = f64::from(s) - mean;
            }
            self.pitch_fwd
                .process_with_scratch(
                    &mut self.pitch_frame,
                    &mut self.pitch_spec,
                    &mut self.pitch_scratch,
                )
                .map_err(fft_error)?;
            for c in &mut self.pitch_spec {
                *c = Complex::new(c.norm_sqr(), 0.0);
            }
            self.pitch_inv
                .process_with_scratch(
                    &mut self.pitch_spec,
                    &mut self.pitch_ac,
                    &mut self.pitch_scratch,
                )
                .map_err(fft_error)?;
            // numpy's irfft divides by the length; realfft does not.
            let ac = |l: usize| self.pitch_ac[l] / PITCH_FFT as f64;
            let e0 = ac(0) + 1e-9;
            let (mut best, mut peak) = (0usize, f64::NEG_INFINITY);
            for l in PITCH_LAGS {
                let r = ac(l) / e0;
                if r > peak {
                    (best, peak) = (l, r);
                }
            }
            if peak > PITCH_VOICED {
                self.log_f0.push((16_000.0 / best as f64).ln());
            }
        }
        let v = &mut self.log_f0;
        if v.len() < 3 {
            return Ok([150f64.ln(), 0.0, 0.0]);
        }
        v.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let i = pos.floor() as usize;
            let j = (i + 1).min(v.len() - 1);
            v[i] + (pos - i as f64) * (v[j] - v[i])
        };
        Ok([
            pct(0.5),
            pct(0.75) - pct(0.25),
            v.len() as f64 / frames as f64,
        ])
    }
}
