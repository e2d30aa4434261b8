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

/// Synthetic "name" `k`: five "phonemes", each a fixed vector drawn from
/// a generator seeded by `k` and the phoneme's position, held for 10 frames
/// times `stretch` (at least one frame each), plus seeded noise. Two names
/// share no phoneme, so no time warping turns one into the other (as with
/// real names, and unlike smooth patterns that differ only in speed).
pub fn name_seq(k: usize, stretch: f32, seed: u64, noise_level: f32) -> FeatureSeq {
    let hold = ((10.0 * stretch).round() as usize).max(1);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(5 * hold * DIM);
    for p in 0..5u64 {
        let mut phoneme_state =
            ((k as u64) * 977 + p * 131 + 7).wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
        let phoneme: Vec<f32> = (0..DIM).map(|_| 1.5 * noise(&mut phoneme_state)).collect();
        for _ in 0..hold {
            for &v in &phoneme {
                data.push(v + noise_level * noise(&mut state));
            }
        }
    }
    FeatureSeq::new(DIM, data).unwrap()
}

/// The toy "names" above are smooth sinusoids that differ only in
/// frequency, far closer to each other than real spoken names. The default
/// `MatchConfig` is calibrated on real MFCC features (see its docs), so
/// the gate tests use a scale fitted to the toy data.
pub fn toy_book() -> ContactBook {
    ContactBook::with_match_config(MatchConfig {
        scale: 3.0,
        ..MatchConfig::default()
    })
    .unwrap()
}
