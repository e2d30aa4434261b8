//! `CONTACTS.toml` loading: the bundled file enrolls what it says, and every
//! malformed or hostile file is a typed error naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wakeguard::contacts::{MAX_CONTACTS, MatchConfig};
use wakeguard::contacts_file::{MAX_CONTACTS_FILE_BYTES, load_contacts};
use wakeguard::features::MfccPlan;
use wakeguard::intent::FlowConfig;
use wakeguard::model::KeywordModel;
use wakeguard::{ContactsFileError, Error};

fn plan() -> Arc<MfccPlan> {
    let model = KeywordModel::embedded().expect("embedded model");
    Arc::new(MfccPlan::new(model.metadata().front_end().expect("front end")).expect("plan"))
}

fn load(path: &Path) -> Result<wakeguard::contacts::ContactBook, Error> {
    load_contacts(
        path,
        &plan(),
        FlowConfig::default().speech_rms,
        MatchConfig::default(),
    )
}

/// A fresh directory under the system's temp dir for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wakeguard-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("contacts.toml");
    std::fs::write(&path, text).expect("write contacts file");
    path
}

fn file_error(result: Result<wakeguard::contacts::ContactBook, Error>) -> ContactsFileError {
    match result {
        Err(Error::ContactsFile { kind, .. }) => kind,
        other => panic!("expected a contacts-file error, got {other:?}"),
    }
}

#[test]
fn the_bundled_file_enrolls_its_contacts_and_blocks_oliver() {
    let book = load(Path::new("testdata/flows/m/contacts.toml")).expect("bundled contacts");
    let entries: Vec<(String, bool)> = book
        .iter()
        .map(|(_, name, blocked)| (name.to_string(), blocked))
        .collect();
    assert_eq!(
        entries,
        [
            ("Alice".to_string(), false),
            ("Oliver".to_string(), true),
            ("Margaret".to_string(), false)
        ]
    );
}

#[test]
fn missing_empty_misspelt_and_unparsable_files_are_refused() {
    let dir = scratch("malformed");
    assert!(matches!(
        file_error(load(&dir.join("absent.toml"))),
        ContactsFileError::Io(_)
    ));
    assert!(matches!(
        file_error(load(&write(&dir, ""))),
        ContactsFileError::NoContacts
    ));
    // A misspelt `blocked` must not enroll the contact as a recipient.
    let misspelt = "[[contact]]\nname = \"Bob\"\nsamples = [\"b.wav\"]\nblockd = true\n";
    assert!(matches!(
        file_error(load(&write(&dir, misspelt))),
        ContactsFileError::Parse(_)
    ));
    assert!(matches!(
        file_error(load(&write(&dir, "[[contact]]\nname = 3\n"))),
        ContactsFileError::Parse(_)
    ));
    let err = load(&write(&dir, "[[contact\n")).expect_err("bad TOML");
    assert!(err.to_string().contains("contacts.toml"), "{err}");
}

#[test]
fn hostile_sizes_are_refused_before_any_recording_is_read() {
    let dir = scratch("hostile");
    let big = format!("# {}\n", "x".repeat(MAX_CONTACTS_FILE_BYTES as usize));
    assert!(matches!(
        file_error(load(&write(&dir, &big))),
        ContactsFileError::TooLarge { .. }
    ));
    // The recordings do not exist: the count is refused before they are opened.
    let many: String = (0..=MAX_CONTACTS)
        .map(|i| format!("[[contact]]\nname = \"c{i}\"\nsamples = [\"none.wav\"]\n"))
        .collect();
    assert!(matches!(
        file_error(load(&write(&dir, &many))),
        ContactsFileError::TooManyContacts { found, .. } if found == MAX_CONTACTS + 1
    ));
    let samples = vec!["\"none.wav\""; 1000].join(", ");
    let text = format!("[[contact]]\nname = \"Ann\"\nsamples = [{samples}]\n");
    match file_error(load(&write(&dir, &text))) {
        ContactsFileError::Contact { name, error } => {
            assert_eq!(name, "Ann");
            assert!(
                matches!(
                    *error,
                    Error::Contact(wakeguard::contacts::ContactError::TooManyEnrollments {
                        found: 1000,
                        ..
                    })
                ),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_recording_names_the_contact_and_the_file() {
    let dir = scratch("recording");
    std::fs::write(dir.join("bob.wav"), b"RIFF....WAVEfmt ").expect("write");
    let err = load(&write(
        &dir,
        "[[contact]]\nname = \"Bob\"\nsamples = [\"bob.wav\"]\n",
    ))
    .expect_err("truncated WAV");
    let text = err.to_string();
    assert!(text.contains("Bob") && text.contains("bob.wav"), "{text}");
}
