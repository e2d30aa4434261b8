//! `CONTACTS.toml` loading, with the recordings it references: the input is
//! the file's text, a NUL byte, then the bytes of `w0.wav` (a second file
//! `w1.wav` holds the same bytes reversed). Any input gives a book or a
//! typed error, never a panic; a loaded book holds at most `MAX_CONTACTS`
//! contacts, each named in the text.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wakeguard::contacts::{MAX_CONTACTS, MatchConfig};
use wakeguard::contacts_file::load_contacts;
use wakeguard::features::MfccPlan;
use wakeguard::intent::FlowConfig;
use wakeguard::model::KeywordModel;

fn plan() -> &'static Arc<MfccPlan> {
    static PLAN: OnceLock<Arc<MfccPlan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let model = KeywordModel::embedded().expect("embedded model");
        Arc::new(MfccPlan::new(model.metadata().front_end().expect("front end")).expect("plan"))
    })
}

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d =
            std::env::temp_dir().join(format!("wakeguard-fuzz-contacts-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = &data[..split];
    let wav = data.get(split + 1..).unwrap_or(&[]);
    let dir = dir();
    let path = dir.join("contacts.toml");
    std::fs::write(&path, text).expect("write toml");
    std::fs::write(dir.join("w0.wav"), wav).expect("write wav");
    let reversed: Vec<u8> = wav.iter().rev().copied().collect();
    std::fs::write(dir.join("w1.wav"), reversed).expect("write wav");
    let speech_rms = FlowConfig::default().speech_rms;
    if let Ok(book) = load_contacts(&path, plan(), speech_rms, MatchConfig::default()) {
        assert!(book.len() <= MAX_CONTACTS);
        let text = String::from_utf8_lossy(text);
        for (_, name, _) in book.iter() {
            assert!(!name.is_empty() && text.contains(name.chars().next().unwrap_or(' ')));
        }
    }
});
