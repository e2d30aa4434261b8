//! `CONTACTS.toml` loading shared by the examples (`send_message`,
//! `flow_eval`): every `[[contact]]` names one recipient and the recordings
//! of the user saying the name (paths relative to the file).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wakeguard::contacts::{ContactBook, MAX_CONTACTS, MatchConfig};
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

/// Largest `CONTACTS.toml` read, in bytes.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Enrolls every contact of the file into a new book (blocked ones blocked).
/// A file over 1 MB, or with more than [`MAX_CONTACTS`] entries, is refused
/// before any recording is read; each recording is read up to
/// `wakeguard::intent::MAX_ENROLLMENT_SECONDS`.
pub fn load_contacts(
    path: &Path,
    plan: &Arc<MfccPlan>,
    speech_rms: f32,
    config: MatchConfig,
) -> Result<ContactBook, String> {
    // Read at most one byte past the limit: a huge file is never read whole.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{}: more than the limit of {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let file: ContactsFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.contact.is_empty() {
        return Err(format!("{}: no [[contact]] entries", path.display()));
    }
    if file.contact.len() > MAX_CONTACTS {
        return Err(format!(
            "{}: {} contacts, more than the limit of {MAX_CONTACTS}",
            path.display(),
            file.contact.len()
        ));
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
