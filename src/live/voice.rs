//! The device's side of the conversation: the read-back spoken by the
//! application's voice, and the answer window opened only once it has been
//! heard to the end.

use std::fmt;

use crate::error::Error;
use crate::gate::{ConfirmedMessage, GateEvent, GateStateKind};
use crate::intent::{FlowEvent, MessageFlow, keep, spoken_duration};

/// Echo guard of [`Conversation::with_voice`] when the application has no
/// better figure: 0.3 s (4 800 samples) after the voice reports the prompt
/// finished. It covers the audio output's buffering (typically 20-100 ms)
/// and the room's reverberation of the prompt's last word.
pub const DEFAULT_ECHO_GUARD: u64 = 4_800;

/// Why a [`Voice`] could not present a read-back.
#[derive(Debug)]
#[non_exhaustive]
pub enum VoiceError {
    /// The text-to-speech program could not be started or waited for.
    Io(std::io::Error),
    /// The text-to-speech program ended with a failure status.
    Failed {
        /// Its exit status, as the platform prints it.
        status: String,
    },
}

impl fmt::Display for VoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "voice output failed: {e}"),
            Self::Failed { status } => write!(f, "voice output failed: {status}"),
        }
    }
}

impl std::error::Error for VoiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Failed { .. } => None,
        }
    }
}

impl From<std::io::Error> for VoiceError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// The application's voice output, which presents the read-back prompt
/// ("Send a 6-second message to Alice?").
///
/// [`Conversation`] calls these from the thread that runs the flow (the
/// worker, never the audio callback), once per pushed chunk while a prompt is
/// playing, with the stream's time in samples at 16 kHz. None of them may
/// block for long: play the prompt in the background and report when it is
/// done.
pub trait Voice {
    /// Start presenting `prompt` (the stream is at sample `at`).
    ///
    /// # Errors
    /// The prompt cannot be presented; the request is cancelled.
    fn start(&mut self, prompt: &str, at: u64) -> Result<(), VoiceError>;

    /// Whether the prompt has been presented to the end, its audio
    /// played out, at stream time `now`.
    ///
    /// # Errors
    /// Presenting it failed; the request is cancelled.
    fn finished(&mut self, now: u64) -> Result<bool, VoiceError>;

    /// Stop presenting (the request was cancelled). Idempotent.
    fn stop(&mut self);
}

/// A voice that takes as long as speaking the prompt would
/// ([`spoken_duration`]) of *stream* time, and plays nothing. Stands in for
/// the device when a recording plays the microphone (the `send_message`
/// example) and for an application that shows the prompt on a screen.
#[derive(Debug, Clone, Default)]
pub struct EstimatedVoice {
    due: Option<u64>,
}

impl Voice for EstimatedVoice {
    fn start(&mut self, prompt: &str, at: u64) -> Result<(), VoiceError> {
        self.due = Some(at.saturating_add(spoken_duration(prompt)));
        Ok(())
    }

    fn finished(&mut self, now: u64) -> Result<bool, VoiceError> {
        Ok(self.due.is_some_and(|due| now >= due))
    }

    fn stop(&mut self) {
        self.due = None;
    }
}

/// Where the read-back stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// No prompt is playing.
    Quiet,
    /// The voice is presenting the prompt.
    Speaking,
    /// The voice is done; the answer window opens at `until`.
    Settling { until: u64 },
}

/// A [`MessageFlow`] with the device's side of the conversation: every
/// read-back the gate issues is handed to the [`Voice`], and the gate is told
/// the read-back finished only `echo_guard` samples after the voice reports it
/// done. So the device's own prompt is never taken for the answer:
///
/// - nothing heard before the answer window opens is scored (the flow starts
///   the answer capture at that instant and never reads audio before it);
/// - speech already under way when the window opens is not an answer (the
///   flow waits for a quiet 10 ms frame first): the tail of the prompt that
///   outlasts the guard, or an answer spoken over the prompt;
/// - the guard covers the output's latency and the room's echo.
///
/// The library does no acoustic echo cancellation; an application whose
/// speaker and microphone are close should also run its platform's echo
/// canceller on the input. `tests/echo.rs` plays the prompt into the
/// microphone, ending in "yes", and checks that it never confirms.
#[derive(Debug)]
pub struct Conversation<V> {
    flow: MessageFlow,
    voice: V,
    prompt: Prompt,
    echo_guard: u64,
}

/// A recording standing in for the microphone: each read-back prompt is
/// "spoken" for [`spoken_duration`] of stream time, with no echo guard. Used
/// by the `send_message` example and the flow tests.
pub type SimulatedDevice = Conversation<EstimatedVoice>;

impl Conversation<EstimatedVoice> {
    /// Wrap a flow, with an [`EstimatedVoice`] and no echo guard.
    pub fn new(flow: MessageFlow) -> Self {
        Self::with_voice(flow, EstimatedVoice::default(), 0)
    }
}

impl<V: Voice> Conversation<V> {
    /// Wrap a flow; read-backs are presented by `voice`, and the answer
    /// window opens `echo_guard` samples (at 16 kHz) after the voice is done
    /// (see [`DEFAULT_ECHO_GUARD`]).
    pub fn with_voice(flow: MessageFlow, voice: V, echo_guard: u64) -> Self {
        Conversation {
            flow,
            voice,
            prompt: Prompt::Quiet,
            echo_guard,
        }
    }

    /// The flow.
    pub fn flow(&self) -> &MessageFlow {
        &self.flow
    }

    /// The flow, mutably (e.g. to block a contact mid-request).
    pub fn flow_mut(&mut self) -> &mut MessageFlow {
        &mut self.flow
    }

    /// The voice.
    pub fn voice(&self) -> &V {
        &self.voice
    }

    /// Whether a read-back is being presented or settling.
    pub fn prompting(&self) -> bool {
        self.prompt != Prompt::Quiet
    }

    /// Push microphone audio (16 kHz mono); returns a confirmed message if
    /// one completed.
    ///
    /// # Errors
    /// As [`MessageFlow::push`].
    pub fn push(
        &mut self,
        pcm: &[i16],
        events: &mut Vec<FlowEvent>,
    ) -> Result<Option<ConfirmedMessage>, Error> {
        let seen = events.len();
        let mut confirmed = self.flow.push(pcm, events)?;
        let mut issued = None;
        for e in &events[seen..] {
            if let FlowEvent::Gate {
                at,
                event: GateEvent::Readback(r),
            } = e
            {
                issued = Some((*at, r.prompt.clone()));
            }
        }
        if let Some((at, prompt)) = issued {
            self.prompt = Prompt::Speaking;
            if let Err(e) = self.voice.start(&prompt, at) {
                self.voice_failed(&e, events);
            }
        }
        keep(&mut confirmed, self.advance(events));
        Ok(confirmed)
    }

    /// About `samples` samples of the stream were lost (see
    /// [`MessageFlow::audio_lost`]); a read-back playing is stopped with the
    /// request it belonged to.
    pub fn audio_lost(&mut self, samples: u64, events: &mut Vec<FlowEvent>) {
        self.flow.audio_lost(samples, events);
        self.follow_gate();
    }

    /// Cancel the request in progress, and the read-back if one is playing.
    pub fn cancel(&mut self, events: &mut Vec<FlowEvent>) {
        self.flow.cancel(events);
        self.follow_gate();
    }

    /// End of the recording: feed digital silence (at most `max_samples`)
    /// until the request in progress, if any, has been decided.
    ///
    /// # Errors
    /// As [`MessageFlow::push`].
    pub fn drain(
        &mut self,
        max_samples: u64,
        events: &mut Vec<FlowEvent>,
    ) -> Result<Option<ConfirmedMessage>, Error> {
        let silence = [0i16; 1_600];
        let mut fed = 0;
        let mut confirmed = None;
        while self.flow.gate().state() != GateStateKind::Idle && fed < max_samples {
            keep(&mut confirmed, self.push(&silence, events)?);
            fed += silence.len() as u64;
        }
        Ok(confirmed)
    }

    /// Move the read-back on: voice done → guard → the gate is told.
    fn advance(&mut self, events: &mut Vec<FlowEvent>) -> Option<ConfirmedMessage> {
        let now = self.flow.now();
        if self.prompt == Prompt::Speaking {
            match self.voice.finished(now) {
                Ok(true) => {
                    self.prompt = Prompt::Settling {
                        until: now.saturating_add(self.echo_guard),
                    }
                }
                Ok(false) => {}
                Err(e) => self.voice_failed(&e, events),
            }
        }
        let mut confirmed = None;
        if let Prompt::Settling { until } = self.prompt
            && now >= until
        {
            self.prompt = Prompt::Quiet;
            confirmed = self.flow.readback_finished(events);
        }
        self.follow_gate();
        confirmed
    }

    /// The read-back cannot be presented: cancel the request.
    fn voice_failed(&mut self, error: &VoiceError, events: &mut Vec<FlowEvent>) {
        events.push(FlowEvent::VoiceFailed {
            at: self.flow.now(),
            error: error.to_string(),
        });
        self.voice.stop();
        self.prompt = Prompt::Quiet;
        self.flow.cancel(events);
    }

    /// A prompt belongs to the request awaiting its read-back; when the gate
    /// has moved on (cancelled, timed out), stop it.
    fn follow_gate(&mut self) {
        if self.prompt != Prompt::Quiet
            && self.flow.gate().state() != GateStateKind::AwaitingReadback
        {
            self.voice.stop();
            self.prompt = Prompt::Quiet;
        }
    }
}
