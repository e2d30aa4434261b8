//! The microphone through cpal (feature `cpal`).
//!
//! [`open_microphone`] picks the input device and its format, builds a cpal
//! input stream whose callback only calls [`CaptureProducer::push`], starts
//! it, and returns the stream with the worker's [`LiveInput`]. The callback
//! follows the real-time rules of [`super`]; cpal's error callback reports
//! the driver's overruns through a [`super::LossReporter`] (one atomic add).

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{Device, SampleFormat, SizedSample, Stream, StreamConfig, SupportedStreamConfig};

use super::capture::{CaptureProducer, InputSample, capture_ring};
use super::input::{DEFAULT_HOP, LiveInput};
use super::{LiveError, LossReporter};
use crate::SAMPLE_RATE;

/// An input device, as [`input_devices`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDevice {
    /// cpal's id (`host:device`, e.g. `alsa:default`): what `--device` takes.
    pub id: String,
    /// Human-readable name, when the backend gives one.
    pub name: String,
    /// Whether it is the host's default input.
    pub default: bool,
}

/// Options of [`open_microphone`]. Every field has a documented default.
#[derive(Debug, Clone, PartialEq)]
pub struct MicOptions {
    /// Which device: its id, the part after `host:`, its name, or a
    /// case-insensitive part of its name that only one device has. Default:
    /// `None`, the host's default input device.
    pub device: Option<String>,
    /// How much audio the capture ring holds, in seconds: how far the worker
    /// may fall behind before audio is lost. Default: 2.0.
    pub ring_seconds: f32,
    /// Hop handed to the flow, in samples at 16 kHz. Default: [`DEFAULT_HOP`].
    pub hop: usize,
    /// Stop after this many samples (at 16 kHz) of input: the rest is
    /// ignored and the input ends. Default: `None`, listen until dropped.
    pub limit_samples: Option<u64>,
    /// The device format to ask for. Default: [`DeviceFormat::Auto`].
    pub format: DeviceFormat,
}

/// Which format [`open_microphone`] asks the device for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeviceFormat {
    /// 16 kHz mono when the device offers it, then 16 kHz with the fewest
    /// channels, then the device's default, then any format it has.
    #[default]
    Auto,
    /// Exactly this rate and channel count (any readable sample format).
    Exact {
        /// Sample rate, Hz.
        rate: u32,
        /// Channels.
        channels: u16,
    },
}

impl Default for MicOptions {
    fn default() -> Self {
        MicOptions {
            device: None,
            ring_seconds: 2.0,
            hop: DEFAULT_HOP,
            limit_samples: None,
            format: DeviceFormat::Auto,
        }
    }
}

/// A running microphone stream. Dropping it stops the capture (the worker's
/// [`LiveInput`] then ends once it has delivered what was captured).
pub struct Microphone {
    stream: Stream,
    device: String,
    config: SupportedStreamConfig,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("device", &self.device)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Microphone {
    /// The device's id.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The device's sample rate, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.config.sample_rate()
    }

    /// The device's channel count.
    pub fn channels(&self) -> u16 {
        self.config.channels()
    }

    /// The device's sample format, as cpal names it (`i16`, `f32`, ...).
    pub fn sample_format(&self) -> String {
        self.config.sample_format().to_string()
    }

    /// Pause the device (no more callbacks).
    ///
    /// # Errors
    /// [`LiveError::Backend`].
    pub fn pause(&self) -> Result<(), LiveError> {
        self.stream.pause().map_err(LiveError::Backend)
    }
}

/// The input devices of the default host.
///
/// # Errors
/// [`LiveError::Backend`] when the host cannot list its devices.
pub fn input_devices() -> Result<Vec<InputDevice>, LiveError> {
    let host = cpal::default_host();
    let default = host.default_input_device().and_then(|d| d.id().ok());
    let mut out = Vec::new();
    for d in host.input_devices().map_err(LiveError::Backend)? {
        let Ok(id) = d.id() else { continue };
        let name = d
            .description()
            .map(|desc| desc.name().to_string())
            .unwrap_or_default();
        out.push(InputDevice {
            default: default.as_ref() == Some(&id),
            id: id.to_string(),
            name,
        });
    }
    Ok(out)
}

/// Open and start the microphone; returns the running stream and the
/// worker's end of its ring.
///
/// The format: see [`DeviceFormat`]; [`LiveInput`] averages the channels and
/// resamples to 16 kHz. Sample formats read: i8, i16, i32, u8, u16, f32, f64
/// (i16 preferred, then f32).
///
/// # Errors
/// [`LiveError::NoInputDevice`], [`LiveError::DeviceNotFound`],
/// [`LiveError::UnsupportedDevice`], [`LiveError::BadFormat`] for a
/// `ring_seconds` out of 0.1..=60 or a bad hop, [`LiveError::Backend`] when
/// the stream cannot be built or started.
pub fn open_microphone(options: &MicOptions) -> Result<(Microphone, LiveInput), LiveError> {
    if !(0.1..=60.0).contains(&options.ring_seconds) {
        return Err(LiveError::BadFormat {
            what: "ring length (s x 1000)",
            value: (options.ring_seconds.max(0.0) * 1000.0) as u64,
        });
    }
    let host = cpal::default_host();
    let device = match &options.device {
        None => host
            .default_input_device()
            .ok_or(LiveError::NoInputDevice)?,
        Some(name) => find_device(&host, name)?,
    };
    let id = device
        .id()
        .map(|id| id.to_string())
        .map_err(LiveError::Backend)?;
    let config = match (choose_config(&device, options.format), &options.device) {
        (Some(config), _) => config,
        // The default input that cannot even say what it offers: there is
        // no usable microphone (on Linux, ALSA's `default` with no card).
        (None, None) if !device.supports_input() => return Err(LiveError::NoInputDevice),
        (None, _) => return Err(LiveError::UnsupportedDevice { device: id }),
    };
    let rate = config.sample_rate();
    let channels = config.channels();
    let capacity = (options.ring_seconds * rate as f32).ceil() as usize;
    let limit = options.limit_samples.map_or(u64::MAX, |n| {
        // Device frames for n samples at 16 kHz.
        (u128::from(n) * u128::from(rate)).div_ceil(u128::from(SAMPLE_RATE)) as u64
    });
    let (producer, consumer) = capture_ring(channels, capacity, limit)?;
    let losses = producer.loss_reporter();
    let stream_config = config.config();
    let stream = match config.sample_format() {
        SampleFormat::I8 => build::<i8>(&device, stream_config, producer, losses),
        SampleFormat::I16 => build::<i16>(&device, stream_config, producer, losses),
        SampleFormat::I32 => build::<i32>(&device, stream_config, producer, losses),
        SampleFormat::U8 => build::<u8>(&device, stream_config, producer, losses),
        SampleFormat::U16 => build::<u16>(&device, stream_config, producer, losses),
        SampleFormat::F32 => build::<f32>(&device, stream_config, producer, losses),
        SampleFormat::F64 => build::<f64>(&device, stream_config, producer, losses),
        _ => return Err(LiveError::UnsupportedDevice { device: id }),
    }?;
    let input = LiveInput::new(consumer, rate, options.hop)?;
    stream.play().map_err(LiveError::Backend)?;
    Ok((
        Microphone {
            stream,
            device: id,
            config,
        },
        input,
    ))
}

fn build<T: SizedSample + InputSample>(
    device: &Device,
    config: StreamConfig,
    mut producer: CaptureProducer,
    losses: LossReporter,
) -> Result<Stream, LiveError> {
    device
        .build_input_stream::<T, _, _>(
            config,
            // The real-time path: copy into the ring, nothing else.
            move |data: &[T], _| producer.push(data),
            // Every stream error may have lost audio: report it (one atomic add).
            move |_err| losses.report(),
            None,
        )
        .map_err(LiveError::Backend)
}

fn readable(format: SampleFormat) -> bool {
    matches!(
        format,
        SampleFormat::I8
            | SampleFormat::I16
            | SampleFormat::I32
            | SampleFormat::U8
            | SampleFormat::U16
            | SampleFormat::F32
            | SampleFormat::F64
    )
}

/// See [`DeviceFormat`] (i16 first, then f32, within each choice).
fn choose_config(device: &Device, format: DeviceFormat) -> Option<SupportedStreamConfig> {
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map(|it| it.filter(|r| readable(r.sample_format())).collect())
        .unwrap_or_default();
    let format_rank = |f: SampleFormat| match f {
        SampleFormat::I16 => 0,
        SampleFormat::F32 => 1,
        _ => 2,
    };
    if let DeviceFormat::Exact { rate, channels } = format {
        return ranges
            .iter()
            .filter(|r| {
                r.channels() == channels
                    && r.min_sample_rate() <= rate
                    && rate <= r.max_sample_rate()
            })
            .min_by_key(|r| format_rank(r.sample_format()))
            .map(|r| r.with_sample_rate(rate));
    }
    let at_16k = ranges
        .iter()
        .filter(|r| r.min_sample_rate() <= SAMPLE_RATE && SAMPLE_RATE <= r.max_sample_rate())
        .min_by_key(|r| (r.channels(), format_rank(r.sample_format())));
    if let Some(r) = at_16k {
        return Some(r.with_sample_rate(SAMPLE_RATE));
    }
    if let Ok(c) = device.default_input_config()
        && readable(c.sample_format())
    {
        return Some(c);
    }
    ranges
        .into_iter()
        .min_by_key(|r| (r.channels(), format_rank(r.sample_format())))
        .map(|r| r.with_max_sample_rate())
}

fn find_device(host: &cpal::Host, wanted: &str) -> Result<Device, LiveError> {
    let devices: Vec<Device> = host.input_devices().map_err(LiveError::Backend)?.collect();
    let ids: Vec<String> = devices
        .iter()
        .map(|d| d.id().map(|id| id.to_string()).unwrap_or_default())
        .collect();
    let names: Vec<String> = devices
        .iter()
        .map(|d| {
            d.description()
                .map(|desc| desc.name().to_string())
                .unwrap_or_default()
        })
        .collect();
    let exact = ids
        .iter()
        .position(|id| id == wanted || id.split_once(':').is_some_and(|(_, rest)| rest == wanted));
    let by_name = || names.iter().position(|n| n == wanted);
    let by_part = || {
        let w = wanted.to_lowercase();
        let hits: Vec<usize> = (0..names.len())
            .filter(|&i| names[i].to_lowercase().contains(&w))
            .collect();
        (hits.len() == 1).then(|| hits[0])
    };
    match exact.or_else(by_name).or_else(by_part) {
        Some(i) => Ok(devices.into_iter().nth(i).ok_or(LiveError::NoInputDevice)?),
        None => Err(LiveError::DeviceNotFound {
            name: wanted.to_string(),
            available: ids,
        }),
    }
}
