//! [`MfccPlan`]: the immutable part of the front end (FFT plan, window,
//! sparse mel filterbank, DCT table), built once and shared between streams.

use std::fmt;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::config::{MfccConfig, Window};
use crate::error::{ConfigError, Error};

/// One triangular mel filter stored sparsely: the weights of FFT bins
/// `first_bin .. first_bin + weights.len()`.
#[derive(Debug, Clone)]
struct MelFilter {
    first_bin: usize,
    /// Range into [`MfccPlan::mel_weights`].
    start: usize,
    len: usize,
}

/// The immutable, precomputed part of an MFCC front end.
///
/// Everything up to the mel energies is computed in `f64`: int16-scale
/// frames have a dynamic range at which `f32` FFT round-off, amplified by
/// the lifter, moves high cepstra by ~1e-3 (measured against a float64
/// reference); in `f64` the error is ~1e-5. Cepstra are `f32`.
///
/// Build it once with [`MfccPlan::new`]; it is `Send + Sync` and can be
/// shared by any number of [`MfccStream`](super::MfccStream)s through an
/// `Arc`. It never allocates after construction.
pub struct MfccPlan {
    config: MfccConfig,
    frame_len: usize,
    hop_len: usize,
    fft_len: usize,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    filters: Vec<MelFilter>,
    mel_weights: Vec<f64>,
    /// `n_mfcc × n_mels`, row-major, with the lifter folded into the rows.
    dct: Vec<f32>,
    log_floor_ln: f32,
    log_energy_floor: Option<f32>,
}

impl fmt::Debug for MfccPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfccPlan")
            .field("config", &self.config)
            .field("frame_len", &self.frame_len)
            .field("hop_len", &self.hop_len)
            .field("fft_len", &self.fft_len)
            .finish_non_exhaustive()
    }
}

/// Per-stream scratch buffers for [`MfccPlan::compute_frame`]. Create with
/// [`MfccPlan::make_scratch`]; reusing it makes frame computation
/// allocation-free.
#[derive(Debug, Clone)]
pub struct FrameScratch {
    frame: Vec<f64>,
    fft_in: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    mel: Vec<f32>,
}

/// Kaldi's mel scale.
fn mel_scale(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

impl MfccPlan {
    /// Validate `config` and precompute every table.
    pub fn new(config: MfccConfig) -> Result<Self, Error> {
        config.validate()?;
        let frame_len = config.frame_len();
        let hop_len = config.hop_len();
        let fft_len = config.fft_len();

        let window = make_window(config.window, frame_len);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
        let (filters, mel_weights) = make_mel_filters(&config, fft_len)?;
        let dct = make_dct(config.n_mfcc, config.n_mels, config.cepstral_lifter);
        let log_energy_floor =
            (config.use_energy && config.energy_floor > 0.0).then(|| config.energy_floor.ln());
        Ok(MfccPlan {
            log_floor_ln: config.log_floor.ln(),
            config,
            frame_len,
            hop_len,
            fft_len,
            window,
            fft,
            filters,
            mel_weights,
            dct,
            log_energy_floor,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &MfccConfig {
        &self.config
    }
    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }
    /// Samples between frame starts.
    pub fn hop_len(&self) -> usize {
        self.hop_len
    }
    /// FFT size.
    pub fn fft_len(&self) -> usize {
        self.fft_len
    }
    /// Values per output frame (`n_mfcc`).
    pub fn n_features(&self) -> usize {
        self.config.n_mfcc
    }
    /// Number of frames that `n_samples` samples yield (snip edges).
    pub fn frames_for(&self, n_samples: usize) -> usize {
        if n_samples < self.frame_len {
            0
        } else {
            1 + (n_samples - self.frame_len) / self.hop_len
        }
    }
    /// Number of non-zero mel filterbank weights (the cost of the mel stage).
    pub fn mel_weight_count(&self) -> usize {
        self.mel_weights.len()
    }

    /// Allocate the scratch buffers [`compute_frame`](Self::compute_frame) needs.
    pub fn make_scratch(&self) -> FrameScratch {
        FrameScratch {
            frame: vec![0.0; self.frame_len],
            fft_in: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft_scratch: self.fft.make_scratch_vec(),
            power: vec![0.0; self.fft_len / 2 + 1],
            mel: vec![0.0; self.config.n_mels],
        }
    }

    /// Compute one frame of cepstra into `out` (length `n_mfcc`) from
    /// `samples` (length `frame_len`, int16 scale, all finite). For any
    /// finite input the output is finite. `dither` is
    /// called once per sample when dither is enabled and must return a
    /// standard normal deviate. Never allocates.
    ///
    /// A length mismatch is reported as [`Error::Shape`], never a panic.
    pub fn compute_frame(
        &self,
        samples: &[f64],
        scratch: &mut FrameScratch,
        dither: &mut impl FnMut() -> f32,
        out: &mut [f32],
    ) -> Result<(), Error> {
        for (what, expected, found) in [
            ("frame samples", self.frame_len, samples.len()),
            ("cepstra output", self.config.n_mfcc, out.len()),
            ("scratch frame", self.frame_len, scratch.frame.len()),
            ("scratch FFT input", self.fft_len, scratch.fft_in.len()),
        ] {
            if expected != found {
                return Err(Error::Shape {
                    what,
                    expected,
                    found,
                });
            }
        }
        let cfg = &self.config;
        let frame = &mut scratch.frame;
        frame.copy_from_slice(samples);

        if cfg.dither > 0.0 {
            let amount = cfg.dither as f64;
            for s in frame.iter_mut() {
                *s += amount * dither() as f64;
            }
        }
        if cfg.remove_dc_offset {
            let mean = frame.iter().sum::<f64>() / frame.len() as f64;
            for s in frame.iter_mut() {
                *s -= mean;
            }
        }
        let mut log_energy = 0.0;
        if cfg.use_energy && cfg.raw_energy {
            log_energy = self.log_energy(frame);
        }
        if cfg.preemphasis > 0.0 {
            let k = cfg.preemphasis as f64;
            for i in (1..frame.len()).rev() {
                frame[i] -= k * frame[i - 1];
            }
            frame[0] -= k * frame[0];
        }
        for (s, w) in frame.iter_mut().zip(&self.window) {
            *s *= w;
        }
        if cfg.use_energy && !cfg.raw_energy {
            log_energy = self.log_energy(frame);
        }

        let (head, tail) = scratch.fft_in.split_at_mut(self.frame_len);
        head.copy_from_slice(frame);
        tail.fill(0.0);
        // Lengths come from this plan, so the FFT cannot fail; report it if it does.
        if self
            .fft
            .process_with_scratch(
                &mut scratch.fft_in,
                &mut scratch.spectrum,
                &mut scratch.fft_scratch,
            )
            .is_err()
        {
            return Err(Error::Config(ConfigError::FftSize {
                fft_size: self.fft_len,
                frame: self.frame_len,
            }));
        }
        for (p, c) in scratch.power.iter_mut().zip(&scratch.spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }

        for (m, f) in scratch.mel.iter_mut().zip(&self.filters) {
            let w = &self.mel_weights[f.start..f.start + f.len];
            let p = &scratch.power[f.first_bin..f.first_bin + f.len];
            let e: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
            *m = if e > cfg.log_floor as f64 {
                e.ln() as f32
            } else {
                self.log_floor_ln
            };
        }

        let n_mels = cfg.n_mels;
        for (o, row) in out.iter_mut().zip(self.dct.chunks_exact(n_mels)) {
            *o = row.iter().zip(&scratch.mel).map(|(a, b)| a * b).sum();
        }
        if cfg.use_energy {
            out[0] = match self.log_energy_floor {
                Some(floor) if log_energy < floor => floor,
                _ => log_energy,
            };
        }
        Ok(())
    }

    fn log_energy(&self, frame: &[f64]) -> f32 {
        let e: f64 = frame.iter().map(|x| x * x).sum();
        if e > self.config.log_floor as f64 {
            e.ln() as f32
        } else {
            self.log_floor_ln
        }
    }
}

fn make_window(kind: Window, n: usize) -> Vec<f64> {
    let a = 2.0 * std::f64::consts::PI / (n as f64 - 1.0);
    (0..n)
        .map(|i| {
            let c = (a * i as f64).cos();
            match kind {
                Window::Povey => (0.5 - 0.5 * c).powf(0.85),
                Window::Hann => 0.5 - 0.5 * c,
                Window::Hamming => 0.54 - 0.46 * c,
                Window::Rectangular => 1.0,
            }
        })
        .collect()
}

/// Kaldi's triangular mel filters (`MelBanks`), stored sparsely. Like Kaldi,
/// the Nyquist bin is never used.
fn make_mel_filters(
    cfg: &MfccConfig,
    fft_len: usize,
) -> Result<(Vec<MelFilter>, Vec<f64>), ConfigError> {
    let n_fft_bins = fft_len / 2;
    let bin_width = cfg.sample_rate as f64 / fft_len as f64;
    let mel_low = mel_scale(cfg.low_freq as f64);
    let mel_high = mel_scale(cfg.resolved_high_freq() as f64);
    let delta = (mel_high - mel_low) / (cfg.n_mels as f64 + 1.0);
    let mut filters = Vec::with_capacity(cfg.n_mels);
    let mut weights = Vec::new();
    for bin in 0..cfg.n_mels {
        let left = mel_low + bin as f64 * delta;
        let center = left + delta;
        let right = center + delta;
        let start = weights.len();
        let mut first_bin = None;
        for i in 0..n_fft_bins {
            let mel = mel_scale(bin_width * i as f64);
            if mel > left && mel < right {
                let w = if mel <= center {
                    (mel - left) / (center - left)
                } else {
                    (right - mel) / (right - center)
                };
                first_bin.get_or_insert(i);
                weights.push(w);
            }
        }
        let Some(first_bin) = first_bin else {
            return Err(ConfigError::EmptyMelBin { bin });
        };
        filters.push(MelFilter {
            first_bin,
            start,
            len: weights.len() - start,
        });
    }
    Ok((filters, weights))
}

/// Kaldi's orthonormal DCT-II rows `0..n_mfcc`, each scaled by its lifter coefficient.
fn make_dct(n_mfcc: usize, n_mels: usize, lifter: f32) -> Vec<f32> {
    let n = n_mels as f64;
    let mut dct = Vec::with_capacity(n_mfcc * n_mels);
    for k in 0..n_mfcc {
        let norm = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        let lift = if lifter > 0.0 {
            let q = lifter as f64;
            1.0 + 0.5 * q * (std::f64::consts::PI * k as f64 / q).sin()
        } else {
            1.0
        };
        for j in 0..n_mels {
            let v = norm * (std::f64::consts::PI / n * (j as f64 + 0.5) * k as f64).cos();
            dct.push((v * lift) as f32);
        }
    }
    dct
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaldi_tables_have_expected_shapes() {
        let plan = MfccPlan::new(MfccConfig::kaldi()).unwrap();
        assert_eq!(plan.frame_len(), 400);
        assert_eq!(plan.hop_len(), 160);
        assert_eq!(plan.fft_len(), 512);
        assert_eq!(plan.n_features(), 13);
        // Each FFT bin falls in at most two overlapping triangles.
        assert!(plan.mel_weight_count() <= 2 * 256);
        assert!(plan.mel_weight_count() > 200);
    }

    #[test]
    fn povey_window_matches_definition() {
        let w = make_window(Window::Povey, 400);
        assert!(w[0].abs() < 1e-12);
        assert!((w[199] - w[200]).abs() < 1e-6, "symmetric");
        let hann_mid = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * 100.0 / 399.0).cos();
        assert!((w[100] - hann_mid.powf(0.85)).abs() < 1e-12);
    }

    #[test]
    fn dct_rows_are_orthonormal_without_lifter() {
        let d = make_dct(13, 23, 0.0);
        for a in 0..13 {
            for b in 0..13 {
                let dot: f32 = (0..23).map(|j| d[a * 23 + j] * d[b * 23 + j]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn too_many_mels_for_fft_is_an_error() {
        let cfg = MfccConfig {
            n_mels: 200,
            n_mfcc: 13,
            ..MfccConfig::kaldi()
        };
        assert!(matches!(
            MfccPlan::new(cfg),
            Err(Error::Config(ConfigError::EmptyMelBin { .. }))
        ));
    }
}
