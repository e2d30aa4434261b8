//! Stage 0 and the device's side: from a live microphone to the flow, and
//! the read-back spoken back.
//!
//! ```text
//! audio callback ──push──▶ capture ring ──pull──▶ LiveInput ──hops──▶ Conversation ──▶ Voice
//!  (CaptureProducer)        (rtrb, lock-free)      (worker thread:       (MessageFlow + the
//!                                                   mono, 16 kHz, i16)    read-back timing)
//! ```
//!
//! # Real-time rules
//!
//! - **The audio callback only copies.** [`CaptureProducer::push`] converts
//!   the callback's samples to `f32` into a ring allocated when it was made
//!   and publishes them with an atomic store: no allocation, no lock, no
//!   logging, no system call. Nothing else may run in the callback.
//! - **An overrun is a hole, and a hole cancels.** When the worker falls
//!   behind and the ring is full, the callback drops the buffer whole and
//!   counts it. The worker reports it before the audio that follows
//!   ([`Pulled::Lost`]); [`Conversation::audio_lost`] writes it to the audit
//!   log and cancels the request in progress: a request with a hole in its
//!   recording, its name or its answer is never sent. Device-level losses
//!   (the driver's own overrun, reported to cpal's error callback) are
//!   reported the same way ([`LossReporter`]).
//! - **The worker never blocks on the callback.** [`LiveInput::pull`] returns
//!   [`Pulled::Empty`] when there is nothing to do; the worker sleeps a
//!   fraction of a hop and pulls again. It runs the detector, the flow and
//!   the second stages, and allocates per hop (measured in the README).
//! - **Any device format.** Any rate from 8 to 384 kHz and any channel count:
//!   the channels are averaged and the result resampled to 16 kHz with
//!   rubato's FFT resampler ([`LiveInput`]); a 16 kHz device is passed
//!   through unchanged.
//! - **The device never answers itself.** See [`Conversation`]: the answer
//!   window opens an echo guard after the voice has finished, audio before
//!   it is never scored, and speech already under way when it opens is not
//!   an answer.
//!
//! The microphone glue (cpal) is behind the `cpal` feature: see [`mic`]
//! (firmware builds feed [`CaptureProducer`] from their own audio driver).

mod capture;
mod input;
#[cfg(feature = "cpal")]
pub mod mic;
mod voice;

use std::fmt;

pub use capture::{
    CaptureConsumer, CaptureProducer, InputSample, LossReporter, MAX_RING_SAMPLES, capture_ring,
};
pub use input::{DEFAULT_HOP, LiveInput, Pulled};
pub use voice::{
    Conversation, DEFAULT_ECHO_GUARD, EstimatedVoice, SimulatedDevice, Voice, VoiceError,
};

/// Why the live input could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveError {
    /// A format or size out of range.
    BadFormat {
        /// What was out of range.
        what: &'static str,
        /// The value given.
        value: u64,
    },
    /// rubato refused the resampling ratio.
    Resampler(rubato::ResamplerConstructionError),
    /// The system has no audio input device (or its default input cannot
    /// be opened).
    NoInputDevice,
    /// No input device matches the name given.
    DeviceNotFound {
        /// The name asked for.
        name: String,
        /// The input devices there are (their ids).
        available: Vec<String>,
    },
    /// The device offers no sample format this library reads.
    UnsupportedDevice {
        /// The device.
        device: String,
    },
    /// The audio backend failed (opening, starting or listing devices).
    #[cfg(feature = "cpal")]
    Backend(cpal::Error),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadFormat { what, value } => write!(f, "{what} out of range: {value}"),
            Self::Resampler(e) => write!(f, "cannot resample the input to 16 kHz: {e}"),
            Self::NoInputDevice => write!(
                f,
                "no audio input device found (the default input cannot be opened)"
            ),
            Self::DeviceNotFound { name, available } => {
                write!(f, "no input device matches {name:?}")?;
                if available.is_empty() {
                    write!(f, " (there are no input devices)")
                } else {
                    write!(f, "; input devices: {}", available.join(", "))
                }
            }
            Self::UnsupportedDevice { device } => {
                write!(f, "input device {device} offers no supported sample format")
            }
            #[cfg(feature = "cpal")]
            Self::Backend(e) => write!(f, "audio backend: {e}"),
        }
    }
}

impl std::error::Error for LiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Resampler(e) => Some(e),
            #[cfg(feature = "cpal")]
            Self::Backend(e) => Some(e),
            _ => None,
        }
    }
}
