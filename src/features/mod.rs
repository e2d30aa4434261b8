//! Stage 2 of the pipeline: audio → MFCC feature frames.
//!
//! - [`MfccConfig`]: every option, with Kaldi-compatible and model presets.
//! - [`MfccPlan`]: immutable tables (FFT plan, window, sparse mel filters,
//!   liftered DCT), built once, shared by streams.
//! - [`MfccStream`]: per-stream state; push PCM in chunks of any size.
//! - [`FeatureRing`]: the most recent N frames as one contiguous slice, the
//!   model's input window.

mod config;
mod plan;
mod ring;
mod stream;

pub use config::{MfccConfig, Window};
pub use plan::{FrameScratch, MfccPlan};
pub use ring::FeatureRing;
pub use stream::{FeatureMatrix, MfccStream, PcmSample, mfcc};
