//! WAV decoding: any bytes give audio or a typed error, never a panic, and
//! never more samples than the limit allows.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wakeguard::audio::{WavOptions, read_wav_from};

fuzz_target!(|data: &[u8]| {
    for options in [
        WavOptions::default(),
        WavOptions {
            max_seconds: 2,
            ..WavOptions::convert()
        },
    ] {
        if let Ok(audio) = read_wav_from(Cursor::new(data), options) {
            assert_eq!(audio.sample_rate, wakeguard::SAMPLE_RATE);
            assert!(audio.samples.iter().all(|s| s.is_finite()));
            // At most max_seconds of the file, resampled to 16 kHz (from
            // at least 4 kHz: 4x), plus the resampler's rounding.
            let max = u64::from(options.max_seconds) * 16_000 * 4 + 64;
            assert!(
                (audio.samples.len() as u64)
                    <= max.max(u64::from(options.max_seconds) * 16_000 + 64)
            );
        }
    }
});
