//! Model bytes: any bytes load as a model or give a typed error, never a
//! panic that escapes; a model that loads runs a chunk of silence. The same
//! bytes are also tried as the voice check's head (with the embedded mel
//! model); one that loads measures the voice of a short tone.
//!
//! tract panics on some malformed graphs (tests/fuzz_regressions.rs keeps
//! three); `KeywordModel::from_bytes` catches those and returns
//! `ModelError::Load`. libFuzzer's panic hook aborts on every panic, caught
//! or not, so this target lets a panic raised inside tract pass the hook:
//! if it were not caught it would still reach libfuzzer-sys, which aborts,
//! and any panic in wakeguard's own code is a crash as before.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wakeguard::answer::EMBEDDED_MEL;
use wakeguard::model::KeywordModel;
use wakeguard::voice::VoiceModel;

fuzz_target!(
    init: {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tract = info
                .location()
                .is_some_and(|l| l.file().contains("/tract-"));
            if !in_tract {
                abort_hook(info);
            }
        }));
    },
    |data: &[u8]| {
        if let Ok(model) = KeywordModel::from_bytes(data) {
            let _ = model.new_state();
        }
        if let Ok(mut voice) = VoiceModel::from_bytes(EMBEDDED_MEL, data) {
            let tone: Vec<i16> = (0..8_000).map(|i| ((i % 80) as i16 - 40) * 100).collect();
            let _ = voice.voice(&tone);
        }
    }
);
