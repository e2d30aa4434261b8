//! `CONTACTS.toml` loading shared by the examples (`send_message`,
//! `flow_eval`): every `[[contact]]` names one recipient and the recordings
//! of the user saying the name (paths relative to the file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wakeguard::contacts::{ContactBook, MatchConfig};
use wakeguard::features::MfccPlan;
use wakeguard::intent::enroll_from_wavs;

#[derive(Deserialize)]
struct ContactsFile {
    #[serde(default)]
    contact: Vec<ContactEntry>,
}

#[derive(Deserialize)]
struct ContactEntry {
    name: String,
    samples: Vec<PathBuf>,
    #[serde(default)]
    blocked: bool,
}

/// Enrolls every contact of the file into a new book (blocked ones blocked).
pub fn load_contacts(
    path: &Path,
    plan: &Arc<MfccPlan>,
    speech_rms: f32,
    config: MatchConfig,
) -> Result<ContactBook, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ContactsFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.contact.is_empty() {
        return Err(format!("{}: no [[contact]] entries", path.display()));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut book = ContactBook::with_match_config(config).map_err(|e| e.to_string())?;
    for entry in file.contact {
        let samples: Vec<PathBuf> = entry.samples.iter().map(|s| dir.join(s)).collect();
        let id = enroll_from_wavs(&mut book, plan, &entry.name, &samples, speech_rms)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if entry.blocked {
            book.block(id).map_err(|e| e.to_string())?;
        }
    }
    Ok(book)
}
