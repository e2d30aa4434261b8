//! [`MfccConfig`]: every option of the MFCC front end, with its default.

use crate::error::ConfigError;

/// The analysis window applied to each frame. Definitions follow Kaldi
/// (symmetric, with `N - 1` in the denominator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// Kaldi's default: the Hann window raised to the power 0.85.
    Povey,
    /// `0.5 - 0.5 cos(2πn / (N-1))`.
    Hann,
    /// `0.54 - 0.46 cos(2πn / (N-1))`.
    Hamming,
    /// All ones.
    Rectangular,
}

impl Window {
    /// The window's name as used in configs and model metadata.
    pub fn name(self) -> &'static str {
        match self {
            Window::Povey => "povey",
            Window::Hann => "hann",
            Window::Hamming => "hamming",
            Window::Rectangular => "rectangular",
        }
    }

    /// Parse a name produced by [`Window::name`].
    pub fn from_name(name: &str) -> Option<Window> {
        match name {
            "povey" => Some(Window::Povey),
            "hann" | "hanning" => Some(Window::Hann),
            "hamming" => Some(Window::Hamming),
            "rectangular" => Some(Window::Rectangular),
            _ => None,
        }
    }
}

/// Options of the MFCC front end.
///
/// Audio is processed in **int16 scale** (a full-scale sine peaks at 32767),
/// as Kaldi does: `i16` input is used as is, `f32` input in `[-1.0, 1.0]` is
/// multiplied by 32768. Frames are cut with "snip edges" semantics: frame `k`
/// covers samples `k * hop .. k * hop + frame_len`, and no frame is produced
/// until a whole frame of audio has arrived.
///
/// `Default` is [`MfccConfig::kaldi`]. Build a config, change the fields you
/// need, and let [`MfccPlan::new`](super::MfccPlan::new) validate it.
#[derive(Debug, Clone, PartialEq)]
pub struct MfccConfig {
    /// Sample rate of the input in Hz. Default: 16000.
    pub sample_rate: u32,
    /// Frame length in milliseconds. Default: 25.0 (400 samples at 16 kHz).
    /// Converted to samples by truncation, as Kaldi does.
    pub frame_length_ms: f32,
    /// Hop between frame starts in milliseconds. Default: 10.0 (160 samples).
    /// Must not exceed the frame length.
    pub frame_shift_ms: f32,
    /// FFT size. `None` (default) picks the next power of two at or above
    /// the frame length (512 for 25 ms at 16 kHz). An explicit size must be
    /// at least the frame length; frames are zero-padded to it.
    pub fft_size: Option<usize>,
    /// Analysis window. Default: [`Window::Povey`].
    pub window: Window,
    /// Pre-emphasis coefficient in `0.0..=1.0`; 0 disables. Default: 0.97.
    pub preemphasis: f32,
    /// Subtract each frame's mean before anything else. Default: true.
    pub remove_dc_offset: bool,
    /// Number of triangular mel filters. Default: 23.
    pub n_mels: usize,
    /// Lower edge of the mel filterbank in Hz. Default: 20.0.
    pub low_freq: f32,
    /// Upper edge of the mel filterbank in Hz. Values `<= 0` are relative to
    /// Nyquist (Kaldi convention): 0 means Nyquist, -400 means Nyquist - 400 Hz.
    /// Default: 0.0.
    pub high_freq: f32,
    /// Number of cepstral coefficients kept (C0 included). Must not exceed
    /// `n_mels`. Default: 13.
    pub n_mfcc: usize,
    /// Cepstral liftering coefficient `Q` (`c_i *= 1 + Q/2 sin(πi/Q)`); 0
    /// disables. Default: 22.0.
    pub cepstral_lifter: f32,
    /// Floor applied to mel energies (and to the frame energy) before the
    /// logarithm. Default: `f32::EPSILON` (Kaldi's floor).
    pub log_floor: f32,
    /// Standard deviation of Gaussian dither added to each sample, in int16
    /// units; 0 disables. Default: 0.0 (off).
    pub dither: f32,
    /// Seed of the dither generator; the same seed gives the same features.
    /// Default: 0.
    pub dither_seed: u64,
    /// Replace C0 with the log energy of the frame. Default: false.
    pub use_energy: bool,
    /// Measure the energy before pre-emphasis and windowing (Kaldi's
    /// `--raw-energy`); only used when `use_energy`. Default: true.
    pub raw_energy: bool,
    /// Floor on the energy (not its log) when `use_energy`; 0 disables.
    /// Default: 0.0.
    pub energy_floor: f32,
}

impl Default for MfccConfig {
    fn default() -> Self {
        MfccConfig::kaldi()
    }
}

impl MfccConfig {
    /// Kaldi `compute-mfcc-feats --dither=0 --use-energy=false` with every
    /// other option at Kaldi's default: 16 kHz, 25 ms / 10 ms, FFT 512, povey
    /// window, pre-emphasis 0.97, DC removal, 23 mel bins from 20 Hz to
    /// Nyquist, 13 cepstra, lifter 22, snip edges. Feed it int16-scale audio.
    pub fn kaldi() -> Self {
        MfccConfig {
            sample_rate: 16_000,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            fft_size: None,
            window: Window::Povey,
            preemphasis: 0.97,
            remove_dc_offset: true,
            n_mels: 23,
            low_freq: 20.0,
            high_freq: 0.0,
            n_mfcc: 13,
            cepstral_lifter: 22.0,
            log_floor: f32::EPSILON,
            dither: 0.0,
            dither_seed: 0,
            use_energy: false,
            raw_energy: true,
            energy_floor: 0.0,
        }
    }

    /// The front end of wakeguard's bundled models (metadata name
    /// `"wakeguard_v1"`): Kaldi's framing and povey window, but 40 mel bins
    /// from 20 Hz to 7600 Hz (telephone-band microphones and resampled
    /// audio carry little above that) and 20 cepstra, lifter 22, no dither,
    /// C0 kept (not replaced by energy). 16 kHz, 25 ms / 10 ms, FFT 512.
    pub fn wakeguard_v1() -> Self {
        MfccConfig {
            n_mels: 40,
            high_freq: 7600.0,
            n_mfcc: 20,
            ..MfccConfig::kaldi()
        }
    }

    /// Frame length in samples (truncated, as Kaldi does).
    pub fn frame_len(&self) -> usize {
        (self.sample_rate as f64 * 0.001 * self.frame_length_ms as f64) as usize
    }

    /// Hop in samples (truncated, as Kaldi does).
    pub fn hop_len(&self) -> usize {
        (self.sample_rate as f64 * 0.001 * self.frame_shift_ms as f64) as usize
    }

    /// The FFT size that will be used.
    pub fn fft_len(&self) -> usize {
        self.fft_size
            .unwrap_or_else(|| self.frame_len().max(1).next_power_of_two())
    }

    /// The upper filterbank edge in Hz after resolving the Nyquist-relative convention.
    pub fn resolved_high_freq(&self) -> f32 {
        let nyquist = self.sample_rate as f32 * 0.5;
        if self.high_freq <= 0.0 {
            nyquist + self.high_freq
        } else {
            self.high_freq
        }
    }

    /// Check every option. [`MfccPlan::new`](super::MfccPlan::new) calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("frame_length_ms", self.frame_length_ms),
            ("frame_shift_ms", self.frame_shift_ms),
            ("preemphasis", self.preemphasis),
            ("low_freq", self.low_freq),
            ("high_freq", self.high_freq),
            ("cepstral_lifter", self.cepstral_lifter),
            ("log_floor", self.log_floor),
            ("dither", self.dither),
            ("energy_floor", self.energy_floor),
        ] {
            if !v.is_finite() {
                return Err(ConfigError::NonFinite { field });
            }
        }
        if !(1_000..=384_000).contains(&self.sample_rate) {
            return Err(ConfigError::SampleRate {
                found: self.sample_rate,
            });
        }
        if self.frame_length_ms <= 0.0 {
            return Err(ConfigError::NotPositive {
                field: "frame_length_ms",
            });
        }
        if self.frame_shift_ms <= 0.0 {
            return Err(ConfigError::NotPositive {
                field: "frame_shift_ms",
            });
        }
        let frame = self.frame_len();
        let hop = self.hop_len();
        if frame < 2 {
            return Err(ConfigError::FrameTooShort { samples: frame });
        }
        if hop == 0 {
            return Err(ConfigError::NotPositive {
                field: "frame_shift_ms",
            });
        }
        if hop > frame {
            return Err(ConfigError::HopLongerThanFrame { hop, frame });
        }
        let fft = self.fft_len();
        // An upper bound keeps table sizes sane (2^16 bins is far beyond any speech use).
        if fft < frame || fft > 1 << 16 {
            return Err(ConfigError::FftSize {
                fft_size: fft,
                frame,
            });
        }
        if !(0.0..=1.0).contains(&self.preemphasis) {
            return Err(ConfigError::PreEmphasis {
                found: self.preemphasis,
            });
        }
        if self.n_mels == 0 {
            return Err(ConfigError::NotPositive { field: "n_mels" });
        }
        if self.n_mfcc == 0 {
            return Err(ConfigError::NotPositive { field: "n_mfcc" });
        }
        if self.n_mfcc > self.n_mels {
            return Err(ConfigError::TooManyCepstra {
                n_mfcc: self.n_mfcc,
                n_mels: self.n_mels,
            });
        }
        let nyquist = self.sample_rate as f32 * 0.5;
        let high = self.resolved_high_freq();
        if high > nyquist {
            return Err(ConfigError::AboveNyquist { high, nyquist });
        }
        if self.low_freq < 0.0 || high <= self.low_freq {
            return Err(ConfigError::FrequencyRange {
                low: self.low_freq,
                high,
            });
        }
        if self.cepstral_lifter < 0.0 {
            return Err(ConfigError::NotPositive {
                field: "cepstral_lifter",
            });
        }
        if self.log_floor <= 0.0 {
            return Err(ConfigError::LogFloor {
                found: self.log_floor,
            });
        }
        if self.dither < 0.0 {
            return Err(ConfigError::NotPositive { field: "dither" });
        }
        if self.energy_floor < 0.0 {
            return Err(ConfigError::NotPositive {
                field: "energy_floor",
            });
        }
        Ok(())
    }
}
