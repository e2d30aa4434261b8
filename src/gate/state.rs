//! The gate's private state: where a request is, and the audio it holds.

use zeroize::Zeroize;

use super::GateStateKind;
use crate::contacts::ContactId;

/// The recipient and audio of a request past name matching. Wipes its audio
/// when dropped.
pub(super) struct Flow {
    pub(super) contact: ContactId,
    /// [`ContactBook::revision`] of the contact when it was matched.
    pub(super) revision: Option<u64>,
    pub(super) name: String,
    pub(super) audio: Vec<i16>,
}

impl Flow {
    /// Overwrites the audio with zeros and frees it; returns how many
    /// samples were wiped.
    pub(super) fn wipe(&mut self) -> u64 {
        let n = self.audio.len() as u64;
        self.audio.zeroize();
        self.audio = Vec::new();
        n
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.audio.zeroize();
    }
}

pub(super) enum GateState {
    Idle,
    AwaitingIntent {
        deadline: u64,
    },
    AwaitingName {
        deadline: u64,
    },
    Recording {
        flow: Flow,
        started_at: u64,
        speech_samples: u64,
        last_speech_end: u64,
        /// Samples of `flow.audio` already judged speech or silence (whole
        /// 10 ms frames from the recording's start).
        judged: usize,
        /// End of the last speech frame, as an index into `flow.audio`.
        speech_end_index: usize,
    },
    AwaitingReadback {
        flow: Flow,
        issued_at: u64,
        deadline: u64,
    },
    AwaitingAnswer {
        flow: Flow,
        listening_since: u64,
        deadline: u64,
    },
}

impl GateState {
    pub(super) fn kind(&self) -> GateStateKind {
        match self {
            Self::Idle => GateStateKind::Idle,
            Self::AwaitingIntent { .. } => GateStateKind::AwaitingIntent,
            Self::AwaitingName { .. } => GateStateKind::AwaitingName,
            Self::Recording { .. } => GateStateKind::Recording,
            Self::AwaitingReadback { .. } => GateStateKind::AwaitingReadback,
            Self::AwaitingAnswer { .. } => GateStateKind::AwaitingAnswer,
        }
    }

    pub(super) fn flow(&self) -> Option<&Flow> {
        match self {
            Self::Recording { flow, .. }
            | Self::AwaitingReadback { flow, .. }
            | Self::AwaitingAnswer { flow, .. } => Some(flow),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RecordingOutcome {
    Continue,
    Finish,
    NoSpeech,
}
