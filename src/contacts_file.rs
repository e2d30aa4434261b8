//! `CONTACTS.toml`: the enrolled recipients of a device, as a file the
//! application (or the examples, the C ABI and the Python package) loads.
//!
//! ```toml
//! [[contact]]
//! name = "Alice"
//! samples = ["alice1.wav", "alice2.wav"]   # the user saying the name; relative to this file
//!
//! [[contact]]
//! name = "Bob"
//! samples = ["bob1.wav"]
//! blocked = true                           # enrolled, never a recipient (default false)
//! ```
//!
//! Limits against hostile files: at most [`MAX_CONTACTS_FILE_BYTES`] are
//! read, at most [`MAX_CONTACTS`] entries and
//! [`MAX_ENROLLMENTS`](crate::contacts::MAX_ENROLLMENTS) recordings per
//! entry are accepted (checked before any recording is opened), and each
//! recording is read up to
//! [`MAX_ENROLLMENT_SECONDS`](crate::intent::MAX_ENROLLMENT_SECONDS).
//! Unknown keys are refused, so a misspelt `blocked` cannot silently
//! enroll a contact the user meant to block.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::Error;
use crate::contacts::{ContactBook, MAX_CONTACTS, MatchConfig};
use crate::error::ContactsFileError;
use crate::features::MfccPlan;
use crate::intent::enroll_from_wavs;

/// Largest `CONTACTS.toml` read, in bytes (1 MiB).
pub const MAX_CONTACTS_FILE_BYTES: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactsFile {
    #[serde(default)]
    contact: Vec<ContactEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactEntry {
    name: String,
    samples: Vec<PathBuf>,
    #[serde(default)]
    blocked: bool,
}

/// Enrolls every contact of the file at `path` into a new book with
/// `config` (blocked ones blocked), computing name features with `plan`
/// and the speech level `speech_rms`
/// ([`FlowConfig::speech_rms`](crate::intent::FlowConfig::speech_rms)).
/// Recording paths are relative to the file's directory.
pub fn load_contacts(
    path: &Path,
    plan: &Arc<MfccPlan>,
    speech_rms: f32,
    config: MatchConfig,
) -> Result<ContactBook, Error> {
    let fail = |kind| Error::ContactsFile {
        path: path.to_path_buf(),
        kind,
    };
    // Read at most one byte past the limit: a huge file is never read whole.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_CONTACTS_FILE_BYTES + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| fail(ContactsFileError::Io(e)))?;
    if text.len() as u64 > MAX_CONTACTS_FILE_BYTES {
        return Err(fail(ContactsFileError::TooLarge {
            limit: MAX_CONTACTS_FILE_BYTES,
        }));
    }
    let file: ContactsFile =
        toml::from_str(&text).map_err(|e| fail(ContactsFileError::Parse(e)))?;
    if file.contact.is_empty() {
        return Err(fail(ContactsFileError::NoContacts));
    }
    if file.contact.len() > MAX_CONTACTS {
        return Err(fail(ContactsFileError::TooManyContacts {
            found: file.contact.len(),
            limit: MAX_CONTACTS,
        }));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut book = ContactBook::with_match_config(config)?;
    for entry in file.contact {
        let samples: Vec<PathBuf> = entry.samples.iter().map(|s| dir.join(s)).collect();
        let contact_error = |error: Error| {
            fail(ContactsFileError::Contact {
                name: entry.name.clone(),
                error: Box::new(error),
            })
        };
        let id = enroll_from_wavs(&mut book, plan, &entry.name, &samples, speech_rms)
            .map_err(contact_error)?;
        if entry.blocked {
            book.block(id).map_err(|e| contact_error(e.into()))?;
        }
    }
    Ok(book)
}
