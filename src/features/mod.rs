//! Stage 2 of the pipeline: audio → MFCC feature frames.
//!
//! - [`MfccConfig`]: every option, with Kaldi-compatible and model presets.
//! - [`MfccPlan`]: immutable tables (FFT plan, window, sparse mel filters,
//!   liftered DCT), built once, shared by streams.
//! - [`MfccStream`]: per-stream state; push PCM in chunks of any size.
//! - [`FeatureRing`]: the most recent N frames as one contiguous slice, the
//!   model's input window.
//!
//! ```
//! use std::sync::Arc;
//! use wakeguard::features::{MfccConfig, MfccPlan, MfccStream};
//!
//! // Build the immutable plan once; give each audio stream its own state.
//! let plan = Arc::new(MfccPlan::new(MfccConfig::wakeguard_v1())?);
//! let mut stream = MfccStream::new(plan.clone(), 100)?; // keep the last 100 frames
//!
//! // Push audio as it arrives, in chunks of any size.
//! let chunk = vec![0i16; 1_000];
//! let mut frames = 0;
//! stream.push_with(&chunk, |_index, cepstra| {
//!     assert_eq!(cepstra.len(), 20);
//!     frames += 1;
//! })?;
//! assert_eq!(frames, 4); // 25 ms frames every 10 ms: 1 + (1000 - 400) / 160
//! assert_eq!(stream.ring().window().len(), 4 * 20);
//!
//! // Bad input is an error, not a panic, and nothing of the chunk is consumed.
//! assert!(stream.push(&[0.0f32, f32::NAN]).is_err());
//! # Ok::<(), wakeguard::Error>(())
//! ```

mod config;
mod plan;
mod ring;
mod stream;

pub use config::{MfccConfig, Window};
pub use plan::{FrameScratch, MfccPlan};
pub use ring::FeatureRing;
pub use stream::{FeatureMatrix, MfccStream, PcmSample, mfcc};
