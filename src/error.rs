//! Typed errors. Every fallible public function returns [`Error`]; nothing in
//! the library panics on bad input.

use std::fmt;
use std::path::PathBuf;

/// The crate-wide error type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An [`MfccConfig`](crate::features::MfccConfig) or a
    /// [`DetectorConfig`](crate::detector::DetectorConfig) failed validation.
    Config(ConfigError),
    /// A PCM sample was NaN or infinite. The chunk was rejected as a whole:
    /// no sample of it was consumed and no frame was produced from it.
    NonFiniteSample {
        /// Index of the first offending sample within the chunk.
        index: usize,
    },
    /// A buffer, frame or tensor had the wrong length or shape.
    Shape {
        /// What was being checked.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A model (the keyword model, or one of the answer scorer's) could not
    /// be loaded or run.
    Model(ModelError),
    /// The stream was finished; reset it before pushing more audio.
    Finished,
    /// A WAV file could not be read or is not in a supported format.
    Wav {
        /// The file, when the audio came from a path.
        path: Option<PathBuf>,
        /// What went wrong.
        kind: WavError,
    },
    /// The contact book refused an operation (enrolling, blocking, matching).
    Contact(crate::contacts::ContactError),
    /// A `CONTACTS.toml` file could not be used
    /// ([`load_contacts`](crate::contacts_file::load_contacts)).
    ContactsFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        kind: ContactsFileError,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::NonFiniteSample { index } => {
                write!(
                    f,
                    "sample {index} of the chunk is NaN or infinite; chunk rejected"
                )
            }
            Error::Shape {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected length {expected}, found {found}"),
            Error::Wav {
                path: Some(p),
                kind,
            } => write!(f, "{}: {kind}", p.display()),
            Error::Wav { path: None, kind } => write!(f, "WAV input: {kind}"),
            Error::Model(e) => write!(f, "model: {e}"),
            Error::Finished => write!(f, "stream already finished; reset it first"),
            Error::Contact(e) => write!(f, "contacts: {e}"),
            Error::ContactsFile { path, kind } => write!(f, "{}: {kind}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Wav { kind, .. } => Some(kind),
            Error::Model(e) => Some(e),
            Error::Contact(e) => Some(e),
            Error::ContactsFile { kind, .. } => Some(kind),
            Error::NonFiniteSample { .. } | Error::Shape { .. } | Error::Finished => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<crate::contacts::ContactError> for Error {
    fn from(e: crate::contacts::ContactError) -> Self {
        Error::Contact(e)
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        Error::Model(e)
    }
}

/// Why a model (keyword model or answer scorer) was refused or failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    /// The bytes are not a loadable ONNX model (tract's explanation inside).
    Load(String),
    /// The ONNX file has no `wakeguard` metadata entry.
    MissingMetadata,
    /// The metadata is not valid JSON of the expected form, or inconsistent.
    BadMetadata(String),
    /// The graph's inputs or outputs do not have the shapes the metadata implies.
    Shape(String),
    /// The model was trained on a different front end.
    FrontEndMismatch {
        /// The differing option.
        field: &'static str,
        /// The model's value.
        model: String,
        /// The front end's value.
        front_end: String,
    },
    /// A label name the model does not have.
    UnknownLabel(String),
    /// Running the network failed.
    Inference(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Load(why) => write!(f, "cannot load ONNX model: {why}"),
            ModelError::MissingMetadata => {
                write!(
                    f,
                    "ONNX model has no \"wakeguard\" metadata (labels, features, thresholds)"
                )
            }
            ModelError::BadMetadata(why) => write!(f, "invalid model metadata: {why}"),
            ModelError::Shape(why) => write!(f, "model shapes do not match its metadata: {why}"),
            ModelError::FrontEndMismatch {
                field,
                model,
                front_end,
            } => write!(
                f,
                "model expects {field} = {model}, but the front end uses {front_end}"
            ),
            ModelError::UnknownLabel(l) => write!(f, "the model has no label {l:?}"),
            ModelError::Inference(why) => write!(f, "inference failed: {why}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// Why an [`MfccConfig`](crate::features::MfccConfig) or a
/// [`DetectorConfig`](crate::detector::DetectorConfig) is invalid.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A numeric option is NaN or infinite.
    NonFinite {
        /// The option's field name.
        field: &'static str,
    },
    /// An option that must be positive is zero or negative.
    NotPositive {
        /// The option's field name.
        field: &'static str,
    },
    /// The sample rate is outside 1 kHz ..= 384 kHz.
    SampleRate {
        /// The rejected rate in Hz.
        found: u32,
    },
    /// The frame is shorter than 2 samples once converted from milliseconds.
    FrameTooShort {
        /// Samples per frame.
        samples: usize,
    },
    /// The hop is longer than the frame, so samples would be skipped.
    HopLongerThanFrame {
        /// Hop in samples.
        hop: usize,
        /// Frame length in samples.
        frame: usize,
    },
    /// The FFT is shorter than the frame, or not a power of two when one is required.
    FftSize {
        /// The requested FFT size.
        fft_size: usize,
        /// Frame length in samples.
        frame: usize,
    },
    /// `low_freq` is not below `high_freq`, or negative.
    FrequencyRange {
        /// Lower edge in Hz.
        low: f32,
        /// Upper edge in Hz (after resolving 0 or negative values relative to Nyquist).
        high: f32,
    },
    /// The upper frequency is above the Nyquist frequency.
    AboveNyquist {
        /// Upper edge in Hz.
        high: f32,
        /// Half the sample rate.
        nyquist: f32,
    },
    /// More cepstra were asked for than there are mel bins.
    TooManyCepstra {
        /// Requested number of cepstral coefficients.
        n_mfcc: usize,
        /// Number of mel bins.
        n_mels: usize,
    },
    /// A mel filter covers no FFT bin: too many mel bins for this FFT size and range.
    EmptyMelBin {
        /// Index of the empty filter.
        bin: usize,
    },
    /// The pre-emphasis coefficient is outside `0.0..=1.0`.
    PreEmphasis {
        /// The rejected coefficient.
        found: f32,
    },
    /// The log floor must be a positive finite number.
    LogFloor {
        /// The rejected floor.
        found: f32,
    },
    /// The ring buffer must hold at least one frame.
    RingCapacity,
    /// A duration option (in samples at 16 kHz) of a
    /// [`FlowConfig`](crate::intent::FlowConfig) is outside its range.
    DurationOutOfRange {
        /// The option's field name.
        field: &'static str,
        /// The value given, in samples.
        found: u64,
        /// The smallest value allowed, in samples.
        min: u64,
        /// The largest value allowed, in samples.
        max: u64,
    },
    /// A level option (RMS in int16 units) is outside `(0, 32768]`.
    LevelOutOfRange {
        /// The option's field name.
        field: &'static str,
        /// The value given.
        found: f32,
    },
    /// [`FlowConfig::wake_labels`](crate::intent::FlowConfig::wake_labels)
    /// is empty: no request could ever start.
    NoWakeLabels,
    /// The gate's [`GateConfig`](crate::gate::GateConfig) failed validation.
    Gate(crate::gate::GateConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NonFinite { field } => write!(f, "`{field}` is NaN or infinite"),
            ConfigError::NotPositive { field } => write!(f, "`{field}` must be positive"),
            ConfigError::SampleRate { found } => {
                write!(f, "sample rate {found} Hz is outside 1000..=384000 Hz")
            }
            ConfigError::FrameTooShort { samples } => {
                write!(
                    f,
                    "frame of {samples} samples is too short (need at least 2)"
                )
            }
            ConfigError::HopLongerThanFrame { hop, frame } => {
                write!(
                    f,
                    "hop of {hop} samples is longer than the frame of {frame} samples"
                )
            }
            ConfigError::FftSize { fft_size, frame } => write!(
                f,
                "FFT size {fft_size} must be at least the frame length ({frame} samples)"
            ),
            ConfigError::FrequencyRange { low, high } => {
                write!(
                    f,
                    "frequency range {low} Hz .. {high} Hz is empty or negative"
                )
            }
            ConfigError::AboveNyquist { high, nyquist } => {
                write!(
                    f,
                    "upper frequency {high} Hz is above Nyquist ({nyquist} Hz)"
                )
            }
            ConfigError::TooManyCepstra { n_mfcc, n_mels } => {
                write!(f, "{n_mfcc} cepstra requested but only {n_mels} mel bins")
            }
            ConfigError::EmptyMelBin { bin } => write!(
                f,
                "mel filter {bin} covers no FFT bin; use fewer mel bins or a larger FFT"
            ),
            ConfigError::PreEmphasis { found } => {
                write!(f, "pre-emphasis {found} is outside 0.0..=1.0")
            }
            ConfigError::LogFloor { found } => {
                write!(f, "log floor {found} must be positive and finite")
            }
            ConfigError::RingCapacity => write!(f, "ring buffer capacity must be at least 1 frame"),
            ConfigError::DurationOutOfRange {
                field,
                found,
                min,
                max,
            } => write!(
                f,
                "`{field}` of {found} samples is outside {min}..={max} samples"
            ),
            ConfigError::LevelOutOfRange { field, found } => {
                write!(f, "`{field}` of {found} is outside (0, 32768]")
            }
            ConfigError::NoWakeLabels => write!(f, "`wake_labels` is empty"),
            ConfigError::Gate(e) => write!(f, "gate: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Gate(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a WAV input was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum WavError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The data is not a RIFF/WAVE file, or its header is malformed.
    Malformed(&'static str),
    /// The file ends in the middle of a sample or before its declared data length.
    Truncated,
    /// The sample rate differs from the one required and conversion was not requested.
    SampleRate {
        /// Rate found in the file, Hz.
        found: u32,
        /// Rate required, Hz.
        expected: u32,
    },
    /// The file has more than one channel and conversion was not requested.
    Channels {
        /// Channels found in the file.
        found: u16,
    },
    /// A bit depth / sample format combination that is not supported.
    SampleFormat {
        /// Bits per sample found in the file.
        bits: u16,
        /// Whether the samples are IEEE float.
        float: bool,
    },
    /// The file contains no audio.
    Empty,
    /// A float WAV contained NaN or infinite samples.
    NonFinite,
    /// Resampling failed (the resampler refused the rate pair).
    Resample(String),
    /// Resampling was asked for a rate outside
    /// [`MIN_RESAMPLE_RATE`](crate::audio::MIN_RESAMPLE_RATE)..=[`MAX_RESAMPLE_RATE`](crate::audio::MAX_RESAMPLE_RATE).
    UnsupportedRate {
        /// Rate found in the file, Hz.
        found: u32,
    },
    /// The audio is longer than [`WavOptions::max_seconds`](crate::audio::WavOptions::max_seconds)
    /// allows in memory (stream it with [`open_wav`](crate::audio::open_wav) instead).
    TooLong {
        /// The limit, in seconds.
        max_seconds: u32,
    },
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::Io(e) => write!(f, "cannot read: {e}"),
            WavError::Malformed(why) => write!(f, "not a valid WAV file: {why}"),
            WavError::Truncated => write!(f, "WAV data is truncated"),
            WavError::SampleRate { found, expected } => write!(
                f,
                "sample rate is {found} Hz, expected {expected} Hz (convert the file, or enable resampling)"
            ),
            WavError::Channels { found } => write!(
                f,
                "{found} channels, expected mono (convert the file, or enable downmixing)"
            ),
            WavError::SampleFormat { bits, float } => write!(
                f,
                "unsupported sample format: {bits}-bit {}; supported: 8/16/24/32-bit integer PCM, 32-bit float",
                if *float { "float" } else { "integer" }
            ),
            WavError::Empty => write!(f, "WAV file contains no samples"),
            WavError::NonFinite => write!(f, "WAV file contains NaN or infinite samples"),
            WavError::Resample(why) => write!(f, "resampling failed: {why}"),
            WavError::UnsupportedRate { found } => write!(
                f,
                "sample rate {found} Hz cannot be resampled (supported: {}..={} Hz)",
                crate::audio::MIN_RESAMPLE_RATE,
                crate::audio::MAX_RESAMPLE_RATE
            ),
            WavError::TooLong { max_seconds } => write!(
                f,
                "more than {max_seconds} s of audio: too long to read into memory (stream the file)"
            ),
        }
    }
}

impl std::error::Error for WavError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WavError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a `CONTACTS.toml` file was refused
/// ([`load_contacts`](crate::contacts_file::load_contacts)).
#[derive(Debug)]
#[non_exhaustive]
pub enum ContactsFileError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file is larger than [`MAX_CONTACTS_FILE_BYTES`](crate::contacts_file::MAX_CONTACTS_FILE_BYTES).
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file is not valid TOML or does not have the documented fields.
    Parse(toml::de::Error),
    /// The file has no `[[contact]]` entry.
    NoContacts,
    /// More entries than [`MAX_CONTACTS`](crate::contacts::MAX_CONTACTS).
    TooManyContacts {
        /// Entries in the file.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// One contact could not be enrolled (a recording unreadable or without
    /// speech, a duplicate name, too many recordings...).
    Contact {
        /// The contact's name as written in the file.
        name: String,
        /// Why.
        error: Box<Error>,
    },
}

impl fmt::Display for ContactsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactsFileError::Io(e) => write!(f, "cannot read: {e}"),
            ContactsFileError::TooLarge { limit } => {
                write!(f, "more than the limit of {limit} bytes")
            }
            ContactsFileError::Parse(e) => write!(f, "not a valid contacts file: {e}"),
            ContactsFileError::NoContacts => write!(f, "no [[contact]] entries"),
            ContactsFileError::TooManyContacts { found, limit } => {
                write!(f, "{found} contacts, more than the limit of {limit}")
            }
            ContactsFileError::Contact { name, error } => write!(f, "contact {name:?}: {error}"),
        }
    }
}

impl std::error::Error for ContactsFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ContactsFileError::Io(e) => Some(e),
            ContactsFileError::Parse(e) => Some(e),
            ContactsFileError::Contact { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}
