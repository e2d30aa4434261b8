//! Events as text and JSON lines: one format shared by the examples
//! (`detect --json`, `send_message --json`), the C ABI and the Python
//! package, so that every front end prints the same thing for the same
//! recording.
//!
//! A flow event line is `{"event": KIND, "time": SECONDS, FIELDS...}`, with
//! `time` in seconds from the start of the stream (three decimals), scores
//! with four. The kinds:
//!
//! | `event` | fields |
//! |---|---|
//! | `wake` | `label`, `score` |
//! | `intent` | `score` |
//! | `name` | `start`, `end` (seconds) |
//! | `contact` | `contact`, `contact_id`, `score`, `margin` |
//! | `readback` | `contact`, `prompt`, `duration` (of the message, seconds) |
//! | `answer` | `yes`, `no`, `cancel`, `end`, `scoring` |
//! | `confirmed` | `yes`, `margin` |
//! | `cancelled` | `reason` |
//! | `refused` | `error` |
//! | `audio_lost` | `samples` (lost, at 16 kHz) |
//! | `voice_failed` | `error` (the read-back could not be presented) |
//! | `gate` | `detail` (any other gate decision, in Rust debug notation) |
//! | `dispatched` | `recipient`, `contact_id`, `duration` (seconds) |
//!
//! A detection line is `{"label": L, "start": S, "end": E, "score": P}`.

use crate::SAMPLE_RATE;
use crate::contacts::ContactId;
use crate::detector::Detection;
use crate::gate::{GateEvent, VoiceMatch};
use crate::intent::{AnswerScoring, FlowEvent};

/// One event ready to print: when, what, and its other fields as a JSON
/// object body (`"key": value, ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// Sample time of the event.
    pub at: u64,
    /// The `event` field: `wake`, `intent`, ... (see the module docs).
    pub kind: &'static str,
    /// The remaining fields, JSON-encoded, without braces.
    pub fields: String,
}

impl EventLine {
    /// `at` in seconds.
    pub fn time(&self) -> f64 {
        self.at as f64 / f64::from(SAMPLE_RATE)
    }

    /// The JSON line (no trailing newline).
    pub fn json(&self) -> String {
        format!(
            "{{\"event\": \"{}\", \"time\": {:.3}, {}}}",
            self.kind,
            self.time(),
            self.fields
        )
    }

    /// A human-readable line: time, kind, fields without quotes.
    pub fn text(&self) -> String {
        format!(
            "{:8.3}  {:<10} {}",
            self.time(),
            self.kind,
            self.fields.replace('"', "")
        )
    }
}

/// `s` as a JSON string literal (quotes and escapes included).
pub fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn secs(samples: u64) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

/// The line for one flow event.
pub fn flow_event(event: &FlowEvent) -> EventLine {
    let (at, kind, fields) = match event {
        FlowEvent::Wake { label, score, at } => (
            *at,
            "wake",
            format!("\"label\": {}, \"score\": {score:.4}", json_str(label)),
        ),
        FlowEvent::Intent { score, at } => (*at, "intent", format!("\"score\": {score:.4}")),
        FlowEvent::NameSegment { start, end } => (
            *end,
            "name",
            format!("\"start\": {:.3}, \"end\": {:.3}", secs(*start), secs(*end)),
        ),
        FlowEvent::Answer {
            yes,
            no,
            cancel,
            voice,
            start,
            end,
            scoring,
        } => (
            *start,
            "answer",
            format!(
                "\"yes\": {yes:.4}, \"no\": {no:.4}, \"cancel\": {cancel:.4}, \"end\": {:.3}, \"scoring\": \"{}\", \"voice\": {}",
                secs(*end),
                match scoring {
                    AnswerScoring::KeywordModel => "keyword_model",
                    AnswerScoring::SpeechEmbedding => "speech_embedding",
                },
                match voice {
                    VoiceMatch::NotMeasured => "null".to_string(),
                    VoiceMatch::Similarity(s) => format!("{s:.4}"),
                }
            ),
        ),
        FlowEvent::Refused { at, error } => {
            (*at, "refused", format!("\"error\": {}", json_str(error)))
        }
        FlowEvent::AudioLost { at, samples } => {
            (*at, "audio_lost", format!("\"samples\": {samples}"))
        }
        FlowEvent::VoiceFailed { at, error } => (
            *at,
            "voice_failed",
            format!("\"error\": {}", json_str(error)),
        ),
        FlowEvent::Gate { at, event } => {
            let (kind, fields) = gate_event(event);
            (*at, kind, fields)
        }
    };
    EventLine { at, kind, fields }
}

fn gate_event(event: &GateEvent) -> (&'static str, String) {
    match event {
        GateEvent::ContactMatched {
            contact,
            name,
            score,
            margin,
            ..
        } => (
            "contact",
            format!(
                "\"contact\": {}, \"contact_id\": {}, \"score\": {score:.4}, \"margin\": {margin:.4}",
                json_str(name),
                contact.0
            ),
        ),
        GateEvent::Readback(r) => (
            "readback",
            format!(
                "\"contact\": {}, \"prompt\": {}, \"duration\": {:.3}",
                json_str(&r.recipient_name),
                json_str(&r.prompt),
                secs(r.duration_samples)
            ),
        ),
        GateEvent::AnswerAccepted { yes, margin } => (
            "confirmed",
            format!("\"yes\": {yes:.4}, \"margin\": {margin:.4}"),
        ),
        GateEvent::Cancelled { reason } => (
            "cancelled",
            format!("\"reason\": {}", json_str(&reason.to_string())),
        ),
        other => (
            "gate",
            format!("\"detail\": {}", json_str(&format!("{other:?}"))),
        ),
    }
}

/// The line printed when a confirmed message is handed to the sender: at
/// sample `at`, `samples` of audio to `name` (`contact`).
pub fn dispatched(at: u64, contact: ContactId, name: &str, samples: usize) -> EventLine {
    EventLine {
        at,
        kind: "dispatched",
        fields: format!(
            "\"recipient\": {}, \"contact_id\": {}, \"duration\": {:.3}",
            json_str(name),
            contact.0,
            samples as f64 / f64::from(SAMPLE_RATE)
        ),
    }
}

/// A detection as the JSON line `detect --json` prints.
pub fn detection_json(d: &Detection) -> String {
    format!(
        "{{\"label\": {}, \"start\": {:.3}, \"end\": {:.3}, \"score\": {:.4}}}",
        json_str(&d.label),
        secs(d.start_sample),
        secs(d.end_sample),
        d.score
    )
}

/// A detection as the text line `detect` prints: start, end, label, score.
pub fn detection_text(d: &Detection) -> String {
    format!(
        "{:8.3} {:8.3}  {:<13} {:.3}",
        secs(d.start_sample),
        secs(d.end_sample),
        d.label,
        d.score
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::CancelReason;

    #[test]
    fn lines_escape_names_and_keep_the_field_order() {
        let e = FlowEvent::Gate {
            at: 16_000,
            event: GateEvent::Cancelled {
                reason: CancelReason::AnsweredNo,
            },
        };
        let line = flow_event(&e);
        assert_eq!(
            line.json(),
            r#"{"event": "cancelled", "time": 1.000, "reason": "answered no"}"#
        );
        let d = dispatched(8_000, ContactId(3), "Zoë \"Z\"", 16_000);
        assert_eq!(
            d.json(),
            r#"{"event": "dispatched", "time": 0.500, "recipient": "Zoë \"Z\"", "contact_id": 3, "duration": 1.000}"#
        );
        let v: serde_json::Value = serde_json::from_str(&d.json()).expect("valid JSON");
        assert_eq!(v["recipient"], "Zoë \"Z\"");
        assert_eq!(
            d.text(),
            "   0.500  dispatched recipient: Zoë \\Z\\, contact_id: 3, duration: 1.000"
        );
    }
}
