//! # wakeguard
//!
//! On-device wake-word and "send a message to X" detection that **never
//! lets a recording leave the device until it has been read back to the
//! user and confirmed with a clear "yes"**.
//!
//! The modules follow the data flow:
//!
//! 1. [`audio`]: PCM input, WAV files (16 kHz mono).
//! 2. [`features`]: streaming MFCC front end with a ring buffer of frames.
//! 3. [`model`]: the tiny streaming ONNX network (tract), per-frame posteriors.
//! 4. [`detector`]: smoothing, per-label thresholds, one event per keyword.
//! 5. [`intent`]: the send-message flow on a live stream: detector events,
//!    the spoken name and the answer become inputs of the gate.
//! 6. [`answer`]: second-stage answer scorer run only after a read-back
//!    (yes / no / cancel / other from the answer recording).
//! 7. [`contacts`]: the opt-in contact book and spoken-name matching.
//!    [`voice`]: who is answering, an optional check that the "yes" comes
//!    from the voice that made the request (run twice per request).
//! 8. [`gate`]: the confirmation gate, an explicit state machine from wake
//!    word to read-back to "yes"; its [`gate::ConfirmedMessage`] is the only
//!    way to obtain a recording for sending (dispatch).
//! 9. [`audit`]: every decision with its scores and reasons, never audio.
//!
//! Before and after them, [`live`]: a live microphone (lock-free capture
//! ring, any rate and channel count to 16 kHz mono; cpal behind the `cpal`
//! feature) and the device's voice speaking the read-back.
//!
//! Around them: [`contacts_file`] enrolls a book from a `CONTACTS.toml`
//! file, and [`report`] turns events into the JSON lines every front end
//! (examples, C ABI, Python) prints.
//!
//! Off the data path, [`eval`] measures miss rate against false alarms per
//! hour on labeled recordings (`examples/evaluate.rs`).
//!
//! Every fallible function returns a typed [`Error`]; bad input never panics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod answer;
pub mod audio;
pub mod audit;
pub mod contacts;
pub mod contacts_file;
pub mod detector;
pub mod error;
pub mod eval;
pub mod features;
pub mod gate;
pub mod intent;
pub mod live;
pub mod model;
pub mod report;
pub mod voice;

pub use error::{ConfigError, ContactsFileError, Error, ModelError, WavError};

/// The sample rate every wakeguard model and preset expects, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;
