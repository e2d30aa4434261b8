//! The confirmed message: the only way recorded audio leaves the gate.

use std::fmt;
use std::mem;

use zeroize::Zeroize;

use crate::contacts::ContactId;

/// A message the user confirmed: the only way to obtain recorded audio.
///
/// It cannot be built, cloned or defaulted outside the gate and is consumed
/// when used, so each confirmation sends at most once. Dropping it unused
/// wipes the audio.
pub struct ConfirmedMessage {
    pub(super) recipient: ContactId,
    pub(super) recipient_name: String,
    pub(super) audio: Vec<i16>,
}

impl ConfirmedMessage {
    /// The confirmed recipient.
    pub fn recipient(&self) -> ContactId {
        self.recipient
    }

    /// The recipient's display name, as read back.
    pub fn recipient_name(&self) -> &str {
        &self.recipient_name
    }

    /// Length of the audio in samples at 16 kHz.
    pub fn duration_samples(&self) -> u64 {
        self.audio.len() as u64
    }

    /// Takes the audio. The caller becomes responsible for wiping it.
    pub fn into_audio(mut self) -> Vec<i16> {
        mem::take(&mut self.audio)
    }

    /// Hands recipient, name and audio to `send`, then overwrites the audio
    /// with zeros (also if `send` panics).
    pub fn dispatch<R>(mut self, send: impl FnOnce(ContactId, &str, &[i16]) -> R) -> R {
        let result = send(self.recipient, &self.recipient_name, &self.audio);
        self.audio.zeroize();
        result
    }
}

impl Drop for ConfirmedMessage {
    fn drop(&mut self) {
        self.audio.zeroize();
    }
}

/// Never prints audio samples.
impl fmt::Debug for ConfirmedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmedMessage")
            .field("recipient", &self.recipient)
            .field("recipient_name", &self.recipient_name)
            .field("duration_samples", &self.audio.len())
            .finish()
    }
}
