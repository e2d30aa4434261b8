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
//!
//! Every fallible function returns a typed [`Error`]; bad input never panics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod audio;
pub mod error;
pub mod features;

pub use error::{ConfigError, Error, WavError};

/// The sample rate every wakeguard model and preset expects, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;
