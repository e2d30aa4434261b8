//! A simulated device over the bundled requests of `testdata/flows/VOICE/`,
//! with the contacts of its `contacts.toml` enrolled (shared by the flow
//! tests and the soak).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wakeguard::contacts::ContactBook;
use wakeguard::features::MfccPlan;
use wakeguard::gate::{CancelReason, GateEvent};
use wakeguard::intent::{FlowConfig, FlowEvent, MessageFlow, SimulatedDevice, enroll_from_wavs};
use wakeguard::model::KeywordModel;

#[derive(Deserialize)]
struct ContactsFile {
    contact: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    samples: Vec<PathBuf>,
    #[serde(default)]
    blocked: bool,
}

/// `testdata/flows/VOICE`.
pub fn flows_dir(voice: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/flows")
        .join(voice)
}

/// The simulated device over [`flow`].
#[allow(dead_code)] // not every test crate that shares this module uses it
pub fn device(voice: &str) -> SimulatedDevice {
    SimulatedDevice::new(flow(voice))
}

/// The flow with the default configuration and VOICE's contacts.
pub fn flow(voice: &str) -> MessageFlow {
    flow_with(voice, FlowConfig::default())
}

/// The flow with `config` and VOICE's contacts.
pub fn flow_with(voice: &str, config: FlowConfig) -> MessageFlow {
    let model = Arc::new(KeywordModel::embedded().unwrap());
    let plan = Arc::new(MfccPlan::new(model.metadata().front_end().unwrap()).unwrap());
    let dir = flows_dir(voice);
    let file: ContactsFile =
        toml::from_str(&std::fs::read_to_string(dir.join("contacts.toml")).unwrap()).unwrap();
    let mut book = ContactBook::new();
    for e in file.contact {
        let paths: Vec<PathBuf> = e.samples.iter().map(|p| dir.join(p)).collect();
        let id = enroll_from_wavs(&mut book, &plan, &e.name, &paths, config.speech_rms).unwrap();
        if e.blocked {
            book.block(id).unwrap();
        }
    }
    MessageFlow::new(model, book, config).unwrap()
}

/// The reasons of every cancellation among `events`, in order.
#[allow(dead_code)] // not every test crate that shares this module uses it
pub fn cancel_reasons(events: &[FlowEvent]) -> Vec<CancelReason> {
    events
        .iter()
        .filter_map(|e| match e {
            FlowEvent::Gate {
                event: GateEvent::Cancelled { reason },
                ..
            } => Some(*reason),
            _ => None,
        })
        .collect()
}
