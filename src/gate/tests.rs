//! Unit tests of the gate's private helpers.

use super::*;

#[test]
fn time_helpers() {
    assert_eq!(seconds(1.0), 16_000);
    assert_eq!(seconds(1.2), 19_200);
    assert_eq!(seconds(0.5), 8_000);
    assert_eq!(seconds(-1.0), 0);
    assert_eq!(seconds(f32::NAN), 0);
    assert_eq!(millis(10), 160);
    assert_eq!(millis(u64::MAX), u64::MAX);
}

#[test]
fn prompt_wording() {
    assert_eq!(
        readback_prompt(seconds(6.0), "Alice"),
        "Send a 6-second message to Alice?"
    );
    assert_eq!(
        readback_prompt(seconds(8.2), "Bob"),
        "Send an 8-second message to Bob?"
    );
    assert_eq!(
        readback_prompt(seconds(11.0), "Bob"),
        "Send an 11-second message to Bob?"
    );
    assert_eq!(
        readback_prompt(seconds(0.3), "Bob"),
        "Send a 1-second message to Bob?"
    );
    assert_eq!(
        readback_prompt(seconds(20.0), "Bob"),
        "Send a 20-second message to Bob?"
    );
}

#[test]
fn default_config_is_valid_and_checks_fire() {
    GateConfig::default().validate().unwrap();
    let bad = |f: fn(&mut GateConfig)| {
        let mut c = GateConfig::default();
        f(&mut c);
        c.validate().unwrap_err()
    };
    assert_eq!(
        bad(|c| c.confirm_threshold = 0.5),
        GateConfigError::ConfirmNotAboveWake {
            confirm: 0.5,
            wake: 0.5
        }
    );
    assert!(matches!(
        bad(|c| c.wake_threshold = f32::NAN),
        GateConfigError::ScoreOutOfRange {
            field: "wake_threshold",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.intent_threshold = 1.5),
        GateConfigError::ScoreOutOfRange {
            field: "intent_threshold",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.contact_min_margin = 0.0),
        GateConfigError::ScoreOutOfRange {
            field: "contact_min_margin",
            ..
        }
    ));
    assert_eq!(
        bad(|c| c.confirm_window = 0),
        GateConfigError::ZeroWindow {
            field: "confirm_window"
        }
    );
    assert!(matches!(
        bad(|c| c.max_recording = u64::MAX),
        GateConfigError::RecordingTooLong { .. }
    ));
    assert!(matches!(
        bad(|c| c.min_recording = c.max_recording),
        GateConfigError::RecordingBounds { .. }
    ));
    assert!(matches!(
        bad(|c| c.silence_rms = -1.0),
        GateConfigError::InvalidSilenceRms { .. }
    ));
    assert_eq!(
        bad(|c| c.audit_capacity = 0),
        GateConfigError::ZeroAuditCapacity
    );
    assert!(
        Gate::new(
            GateConfig {
                confirm_threshold: 0.4,
                ..GateConfig::default()
            },
            ContactBook::new()
        )
        .is_err()
    );
}

#[test]
fn flow_wipe_zeroes_and_counts() {
    let mut flow = Flow {
        contact: ContactId(1),
        revision: Some(0),
        name: "A".into(),
        audio: vec![7; 100],
    };
    assert_eq!(flow.wipe(), 100);
    assert!(flow.audio.is_empty());
    assert_eq!(flow.audio.capacity(), 0);
}

#[test]
fn answer_classification() {
    let gate = Gate::new(GateConfig::default(), ContactBook::new()).unwrap();
    assert_eq!(gate.classify(0.95, 0.1, 0.0), AnswerVerdict::Yes);
    assert_eq!(gate.classify(0.6, 0.1, 0.0), AnswerVerdict::Unclear);
    assert_eq!(gate.classify(0.85, 0.7, 0.0), AnswerVerdict::Unclear);
    assert_eq!(gate.classify(0.9, 0.0, 0.7), AnswerVerdict::Unclear);
    assert_eq!(gate.classify(0.05, 0.9, 0.1), AnswerVerdict::No);
    assert_eq!(gate.classify(0.05, 0.1, 0.9), AnswerVerdict::Cancel);
    assert_eq!(gate.classify(0.0, 0.0, 0.0), AnswerVerdict::Unclear);
}

#[test]
fn silence_detection_by_frames() {
    assert_eq!(frame_rms(&[]), 0.0);
    assert!((frame_rms(&[3, -4, 3, -4]) - 3.535_533_9).abs() < 1e-6);
}
