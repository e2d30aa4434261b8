//! Toy spoken names shared by the gate tests (`gate_flows`, `gate_props`).

use wakeguard::contacts::{ContactBook, FeatureSeq, MatchConfig};

/// Feature dimension of the toy names.
pub const DIM: usize = 12;

/// Deterministic xorshift noise in [-1, 1).
pub fn noise(state: &mut u64) -> f32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Synthetic "name" `k`: every dimension is a sinusoid whose frequency
/// depends on `k` and whose phase depends on `k` and the dimension, 50 frames
/// long times `stretch` (at least one frame), plus seeded noise.
pub fn name_seq(k: usize, stretch: f32, seed: u64, noise_level: f32) -> FeatureSeq {
    let frames = ((50.0 * stretch).round() as usize).max(1);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let freq = 1.0 + 0.3 * k as f32;
    let mut data = Vec::with_capacity(frames * DIM);
    for t in 0..frames {
        let x = t as f32 / frames as f32;
        for d in 0..DIM {
            let phase = ((k * 7 + d * 3) % 11) as f32 / 11.0;
            data.push(
                (std::f32::consts::TAU * (freq * x + phase)).sin()
                    + noise_level * noise(&mut state),
            );
        }
    }
    FeatureSeq::new(DIM, data).unwrap()
}

/// The toy "names" above are smooth sinusoids that differ only in
/// frequency, far closer to each other than real spoken names. The default
/// `MatchConfig` is calibrated on real MFCC features (see its docs), so
/// the gate tests use a scale fitted to the toy data and compare whole
/// segments.
pub fn toy_book() -> ContactBook {
    ContactBook::with_match_config(MatchConfig {
        scale: 0.3,
        max_trim: 0.0,
        ..MatchConfig::default()
    })
    .unwrap()
}
