//! Stage 1 of the pipeline: PCM audio in. WAV files are read with `hound`.
//!
//! wakeguard works on 16 kHz mono audio. [`read_wav`] accepts 8/16/24/32-bit
//! integer and 32-bit float mono files at 16 kHz and refuses anything else
//! with a typed [`WavError`] naming what was found and what is expected.
//! [`read_wav_with`] can also downmix and resample (with `rubato`'s FFT
//! resampler) when asked to.

use std::io::Read;
use std::path::Path;

use crate::SAMPLE_RATE;
use crate::error::{Error, WavError};

/// Mono audio, samples normalised to `[-1.0, 1.0]` (an `i16` sample `s`
/// becomes `s / 32768`, so converting back by `× 32768` is exact).
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Mono samples in `[-1.0, 1.0]`.
    pub samples: Vec<f32>,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }

    /// The samples as `i16`, rounding and clipping to the int16 range
    /// ([`f32_to_i16`]).
    pub fn to_i16(&self) -> Vec<i16> {
        self.samples.iter().map(|&s| f32_to_i16(s)).collect()
    }
}

/// One sample in `[-1.0, 1.0]` as `i16`: times 32768, rounded half away
/// from zero, clipped to the int16 range. NaN becomes 0; check first with
/// [`pcm_i16_from_f32`] where NaN must be refused.
pub fn f32_to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Converts a chunk of `f32` samples into `out` (cleared first) with
/// [`f32_to_i16`]. A NaN or infinite sample rejects the whole chunk:
/// [`Error::NonFiniteSample`] with its index, `out` left empty.
pub fn pcm_i16_from_f32(samples: &[f32], out: &mut Vec<i16>) -> Result<(), Error> {
    out.clear();
    if let Some(index) = samples.iter().position(|s| !s.is_finite()) {
        return Err(Error::NonFiniteSample { index });
    }
    out.extend(samples.iter().map(|&s| f32_to_i16(s)));
    Ok(())
}

/// Lowest sample rate [`WavOptions::resample`] converts from, Hz.
pub const MIN_RESAMPLE_RATE: u32 = 4_000;
/// Highest sample rate [`WavOptions::resample`] converts from, Hz.
pub const MAX_RESAMPLE_RATE: u32 = 384_000;
/// Default of [`WavOptions::max_seconds`]: one hour (230 MB of `f32` at
/// 16 kHz).
pub const DEFAULT_MAX_WAV_SECONDS: u32 = 3_600;

/// How [`read_wav_with`] treats files that are not 16 kHz mono, and how
/// much it reads into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavOptions {
    /// Average all channels into one. Default: false (multichannel files are refused).
    pub downmix: bool,
    /// Resample other rates (from [`MIN_RESAMPLE_RATE`] to
    /// [`MAX_RESAMPLE_RATE`]) to 16 kHz. Default: false (other rates are
    /// refused).
    pub resample: bool,
    /// Longest audio read into memory, in seconds of the file; longer is
    /// [`crate::WavError::TooLong`], found while reading
    /// (the header's length is never trusted), so memory stays bounded
    /// whatever the file claims or holds. Default:
    /// [`DEFAULT_MAX_WAV_SECONDS`] (one hour). [`open_wav`] streams
    /// without this limit.
    pub max_seconds: u32,
}

impl Default for WavOptions {
    fn default() -> Self {
        WavOptions {
            downmix: false,
            resample: false,
            max_seconds: DEFAULT_MAX_WAV_SECONDS,
        }
    }
}

impl WavOptions {
    /// Accept anything hound can decode: downmix and resample.
    pub fn convert() -> Self {
        WavOptions {
            downmix: true,
            resample: true,
            ..WavOptions::default()
        }
    }
}

/// Read a 16 kHz mono WAV file, refusing any other rate or channel count.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Audio, Error> {
    read_wav_with(path, WavOptions::default())
}

/// Read a WAV file, converting it to 16 kHz mono as `options` allow.
pub fn read_wav_with(path: impl AsRef<Path>, options: WavOptions) -> Result<Audio, Error> {
    let path = path.as_ref();
    let with_path = |kind| Error::Wav {
        path: Some(path.to_path_buf()),
        kind,
    };
    let file = std::fs::File::open(path).map_err(|e| with_path(WavError::Io(e)))?;
    decode_wav(std::io::BufReader::new(file), options).map_err(with_path)
}

/// Decode WAV bytes from any reader (no path in the error).
pub fn read_wav_from(reader: impl Read, options: WavOptions) -> Result<Audio, Error> {
    decode_wav(reader, options).map_err(|kind| Error::Wav { path: None, kind })
}

fn map_hound(e: hound::Error) -> WavError {
    match e {
        // hound reports a short read as its own `Other` error.
        hound::Error::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof
                || (io.kind() == std::io::ErrorKind::Other
                    && io.to_string().contains("Failed to read enough bytes")) =>
        {
            WavError::Truncated
        }
        hound::Error::IoError(io) => WavError::Io(io),
        hound::Error::FormatError(why) => WavError::Malformed(why),
        hound::Error::UnfinishedSample => WavError::Truncated,
        hound::Error::TooWide | hound::Error::Unsupported | hound::Error::InvalidSampleFormat => {
            WavError::Malformed("unsupported or inconsistent WAV format header")
        }
    }
}

/// A WAV file read incrementally, as 16 kHz mono `f32` in `[-1, 1]`, so
/// that recordings of several hours are processed at a steady memory
/// footprint. Multichannel files are averaged when `downmix` is set;
/// resampling needs the whole clip ([`read_wav_with`]), so the file must
/// already be at 16 kHz.
pub struct WavSource<R: Read> {
    reader: hound::WavReader<R>,
    channels: usize,
    float: bool,
    scale: f32,
    frame: Vec<f32>,
    path: Option<std::path::PathBuf>,
}

impl<R: Read> std::fmt::Debug for WavSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("spec", &self.reader.spec())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Open a WAV file for incremental reading (see [`WavSource`]).
pub fn open_wav(
    path: impl AsRef<Path>,
    downmix: bool,
) -> Result<WavSource<std::io::BufReader<std::fs::File>>, Error> {
    let path = path.as_ref();
    let wrap = |kind| Error::Wav {
        path: Some(path.to_path_buf()),
        kind,
    };
    let file = std::fs::File::open(path).map_err(|e| wrap(WavError::Io(e)))?;
    let mut source =
        WavSource::new(std::io::BufReader::new(file), downmix, SAMPLE_RATE).map_err(wrap)?;
    source.path = Some(path.to_path_buf());
    Ok(source)
}

impl<R: Read> WavSource<R> {
    /// Parse the header and check the format. `rate` is the rate required
    /// (pass the file's own rate via [`WavSource::any_rate`] to accept any).
    fn new(reader: R, downmix: bool, rate: u32) -> Result<Self, WavError> {
        let reader = hound::WavReader::new(reader).map_err(map_hound)?;
        let spec = reader.spec();
        let float = spec.sample_format == hound::SampleFormat::Float;
        if spec.channels == 0 {
            return Err(WavError::Malformed("zero channels"));
        }
        if spec.channels > 1 && !downmix {
            return Err(WavError::Channels {
                found: spec.channels,
            });
        }
        if rate != 0 && spec.sample_rate != rate {
            return Err(WavError::SampleRate {
                found: spec.sample_rate,
                expected: rate,
            });
        }
        let scale = match (float, spec.bits_per_sample) {
            (true, 32) => 1.0,
            (false, bits @ (8 | 16 | 24 | 32)) => (1.0 / (1u64 << (bits - 1)) as f64) as f32,
            (float, bits) => return Err(WavError::SampleFormat { bits, float }),
        };
        if reader.len() == 0 {
            return Err(WavError::Empty);
        }
        Ok(WavSource {
            channels: spec.channels as usize,
            frame: vec![0.0; spec.channels as usize],
            reader,
            float,
            scale,
            path: None,
        })
    }

    /// The file's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }

    /// Total length in (mono) samples, from the header.
    pub fn len_samples(&self) -> u64 {
        self.reader.len() as u64 / self.channels as u64
    }

    /// Fill `out` with the next samples; returns how many were written (0
    /// at the end of the file). A truncated file or a NaN sample is an error.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        self.read_inner(out).map_err(|kind| Error::Wav {
            path: self.path.clone(),
            kind,
        })
    }

    fn read_inner(&mut self, out: &mut [f32]) -> Result<usize, WavError> {
        let mut written = 0;
        let channels = self.channels;
        while written < out.len() {
            let mut got = 0;
            if self.float {
                for (slot, s) in self.frame.iter_mut().zip(self.reader.samples::<f32>()) {
                    let s = s.map_err(map_hound)?;
                    if !s.is_finite() {
                        return Err(WavError::NonFinite);
                    }
                    *slot = s;
                    got += 1;
                }
            } else {
                let scale = self.scale;
                for (slot, s) in self.frame.iter_mut().zip(self.reader.samples::<i32>()) {
                    *slot = s.map_err(map_hound)? as f32 * scale;
                    got += 1;
                }
            }
            match got {
                0 => break,
                g if g < channels => return Err(WavError::Truncated),
                _ => {}
            }
            out[written] = if channels == 1 {
                self.frame[0]
            } else {
                self.frame.iter().sum::<f32>() / channels as f32
            };
            written += 1;
        }
        Ok(written)
    }
}

fn decode_wav(reader: impl Read, options: WavOptions) -> Result<Audio, WavError> {
    let required = if options.resample { 0 } else { SAMPLE_RATE };
    let mut source = WavSource::new(reader, options.downmix, required)?;
    let rate = source.sample_rate();
    if rate != SAMPLE_RATE && !(MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE).contains(&rate) {
        return Err(WavError::UnsupportedRate { found: rate });
    }
    // Grow as data arrives rather than trusting the header's length: a
    // corrupt header must not trigger a huge allocation.
    let declared = source.len_samples();
    let limit = u64::from(options.max_seconds) * u64::from(rate);
    let mut mono = Vec::new();
    let mut buf = vec![0.0; 1 << 16];
    loop {
        let got = source.read_inner(&mut buf)?;
        if got == 0 {
            break;
        }
        if (mono.len() + got) as u64 > limit {
            return Err(WavError::TooLong {
                max_seconds: options.max_seconds,
            });
        }
        mono.extend_from_slice(&buf[..got]);
    }
    if (mono.len() as u64) < declared {
        return Err(WavError::Truncated);
    }
    let samples = if rate == SAMPLE_RATE {
        mono
    } else {
        resample(&mono, rate, SAMPLE_RATE)?
    };
    Ok(Audio {
        sample_rate: SAMPLE_RATE,
        samples,
    })
}

/// Resample a whole mono clip with rubato's synchronous FFT resampler.
pub fn resample_clip(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, Error> {
    resample(samples, from, to).map_err(|kind| Error::Wav { path: None, kind })
}

fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, WavError> {
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{Fft, FixedSync, Resampler};
    if from == to {
        return Ok(samples.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| WavError::Resample(e.to_string()))?;
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| WavError::Resample(e.to_string()))?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| WavError::Resample(e.to_string()))?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_bytes(spec: hound::WavSpec, n: usize) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            for i in 0..n * spec.channels as usize {
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample((i as f32 * 0.01).sin()).unwrap(),
                    hound::SampleFormat::Int => w.write_sample((i % 100) as i32 - 50).unwrap(),
                }
            }
            w.finalize().unwrap();
        }
        buf.into_inner()
    }

    fn spec(rate: u32, channels: u16, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    #[test]
    fn reads_16_bit_mono_exactly() {
        let bytes = wav_bytes(spec(16_000, 1, 16, false), 500);
        let a = read_wav_from(Cursor::new(bytes), WavOptions::default()).unwrap();
        assert_eq!(a.samples.len(), 500);
        assert_eq!(a.to_i16()[0], -50);
        assert_eq!(a.to_i16()[99], 49);
    }

    #[test]
    fn refuses_other_rates_and_stereo_unless_asked() {
        let bytes = wav_bytes(spec(44_100, 1, 16, false), 4410);
        let err = read_wav_from(Cursor::new(bytes.clone()), WavOptions::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::Wav {
                kind: WavError::SampleRate {
                    found: 44_100,
                    expected: 16_000
                },
                ..
            }
        ));
        let a = read_wav_from(Cursor::new(bytes), WavOptions::convert()).unwrap();
        assert!(
            (a.samples.len() as i64 - 1600).abs() <= 2,
            "{}",
            a.samples.len()
        );

        let bytes = wav_bytes(spec(16_000, 2, 16, false), 100);
        assert!(matches!(
            read_wav_from(Cursor::new(bytes.clone()), WavOptions::default()),
            Err(Error::Wav {
                kind: WavError::Channels { found: 2 },
                ..
            })
        ));
        let a = read_wav_from(Cursor::new(bytes), WavOptions::convert()).unwrap();
        assert_eq!(a.samples.len(), 100);
    }

    #[test]
    fn reads_other_depths_and_float() {
        for (bits, float) in [(8, false), (24, false), (32, false), (32, true)] {
            let bytes = wav_bytes(spec(16_000, 1, bits, float), 64);
            let a = read_wav_from(Cursor::new(bytes), WavOptions::default()).unwrap();
            assert_eq!(a.samples.len(), 64, "{bits} {float}");
            assert!(a.samples.iter().all(|s| s.abs() <= 1.0));
        }
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let bytes = wav_bytes(spec(16_000, 1, 16, false), 500);
        for cut in [0, 10, 43, 44 + 301, bytes.len() - 1] {
            let r = read_wav_from(Cursor::new(bytes[..cut].to_vec()), WavOptions::default());
            assert!(r.is_err(), "cut at {cut} accepted");
        }
        let r = read_wav_from(
            Cursor::new(b"not a wav file at all".to_vec()),
            WavOptions::default(),
        );
        assert!(matches!(r, Err(Error::Wav { .. })));
    }

    #[test]
    fn hostile_sizes_and_rates_are_typed_errors() {
        // A header that claims 4 GB of data but holds 500 samples: read as
        // it arrives, never allocated up front, then truncated.
        let mut bytes = wav_bytes(spec(16_000, 1, 16, false), 500);
        let data = bytes.windows(4).position(|w| w == b"data").unwrap();
        bytes[data + 4..data + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        bytes[4..8].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
        let r = read_wav_from(Cursor::new(bytes), WavOptions::default());
        assert!(
            matches!(
                r,
                Err(Error::Wav {
                    kind: WavError::Truncated,
                    ..
                })
            ),
            "{r:?}"
        );
        // Longer than max_seconds: refused while reading.
        let bytes = wav_bytes(spec(16_000, 1, 16, false), 48_000);
        let short = WavOptions {
            max_seconds: 2,
            ..WavOptions::default()
        };
        assert!(matches!(
            read_wav_from(Cursor::new(bytes.clone()), short),
            Err(Error::Wav {
                kind: WavError::TooLong { max_seconds: 2 },
                ..
            })
        ));
        assert_eq!(
            read_wav_from(Cursor::new(bytes), WavOptions::default())
                .unwrap()
                .samples
                .len(),
            48_000
        );
        // Resampling from 1 Hz would make 16,000 samples of each one.
        for rate in [1, 3_999, 384_001, u32::MAX] {
            // hound will not write such headers: patch the rate field.
            let mut bytes = wav_bytes(spec(16_000, 1, 16, false), 100);
            bytes[24..28].copy_from_slice(&rate.to_le_bytes());
            bytes[28..32].copy_from_slice(&rate.wrapping_mul(2).to_le_bytes());
            let r = read_wav_from(Cursor::new(bytes), WavOptions::convert());
            let refused = match r {
                Err(Error::Wav {
                    kind: WavError::UnsupportedRate { found },
                    ..
                }) => found == rate,
                // hound itself refuses a byte rate that overflows.
                Err(Error::Wav {
                    kind: WavError::Malformed(_),
                    ..
                }) => rate == u32::MAX,
                _ => false,
            };
            assert!(refused, "{rate}: {r:?}");
        }
        let bytes = wav_bytes(spec(8_000, 1, 16, false), 800);
        let a = read_wav_from(Cursor::new(bytes), WavOptions::convert()).unwrap();
        assert!((a.samples.len() as i64 - 1600).abs() <= 2);
    }
}
