//! `FlowConfig` is validated before anything is built from it: every bad
//! option is a typed `Error::Config`, never a panic (a duration of
//! `u64::MAX` used to overflow the history size) and never a flow.

use std::sync::Arc;

use wakeguard::contacts::{ContactBook, MatchConfig};
use wakeguard::error::{ConfigError, Error};
use wakeguard::gate::GateConfigError;
use wakeguard::intent::{FlowConfig, MessageFlow};
use wakeguard::model::KeywordModel;

fn flow_error(config: FlowConfig) -> Error {
    let model = Arc::new(KeywordModel::embedded().unwrap());
    let book = ContactBook::with_match_config(MatchConfig::default()).unwrap();
    match MessageFlow::new(model, book, config) {
        Ok(_) => panic!("an invalid configuration was accepted"),
        Err(e) => e,
    }
}

#[test]
fn the_default_is_valid() {
    FlowConfig::default().validate().unwrap();
}

#[test]
fn each_duration_out_of_range_names_its_field() {
    type Set = fn(&mut FlowConfig, u64);
    let cases: [(&str, Set, u64); 9] = [
        ("segment_pause", |c, v| c.segment_pause = v, 0),
        ("segment_pause", |c, v| c.segment_pause = v, u64::MAX),
        ("max_name", |c, v| c.max_name = v, 0),
        ("max_name", |c, v| c.max_name = v, u64::MAX),
        ("min_name", |c, v| c.min_name = v, 24_001), // above the default max_name
        ("answer_tail", |c, v| c.answer_tail = v, u64::MAX),
        ("max_answer", |c, v| c.max_answer = v, 0),
        ("max_answer", |c, v| c.max_answer = v, u64::MAX),
        ("gate.name_window", |c, v| c.gate.name_window = v, u64::MAX),
    ];
    for (field, set, value) in cases {
        let mut config = FlowConfig::default();
        set(&mut config, value);
        let err = config.validate().unwrap_err();
        assert!(
            matches!(err, ConfigError::DurationOutOfRange { field: f, found, .. } if f == field && found == value),
            "{field} = {value}: {err:?}"
        );
        assert!(
            matches!(flow_error(config), Error::Config(ConfigError::DurationOutOfRange { field: f, .. }) if f == field),
            "{field} = {value} reached MessageFlow"
        );
    }
}

#[test]
fn bounds_are_inclusive() {
    let mut config = FlowConfig::default();
    config.min_name = config.max_name;
    config.answer_tail = 0;
    config.segment_pause = 160;
    config.validate().unwrap();
    config.segment_pause = 159;
    assert!(config.validate().is_err());
}

#[test]
fn speech_level_must_be_finite_and_in_range() {
    for value in [f32::NAN, f32::INFINITY, 0.0, -1.0, 32_768.5] {
        let config = FlowConfig {
            speech_rms: value,
            ..FlowConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::LevelOutOfRange {
                    field: "speech_rms",
                    ..
                }
            ),
            "{value}: {err:?}"
        );
    }
}

#[test]
fn no_wake_label_is_refused_and_an_unknown_one_is_a_model_error() {
    let config = FlowConfig {
        wake_labels: Vec::new(),
        ..FlowConfig::default()
    };
    assert!(matches!(
        flow_error(config),
        Error::Config(ConfigError::NoWakeLabels)
    ));
    let config = FlowConfig {
        wake_labels: vec!["hey_toaster".into()],
        ..FlowConfig::default()
    };
    assert!(matches!(flow_error(config), Error::Model(_)));
}

#[test]
fn the_gates_own_checks_come_through_typed() {
    let mut config = FlowConfig::default();
    config.gate.confirm_threshold = config.gate.wake_threshold;
    let err = flow_error(config);
    assert!(
        matches!(
            err,
            Error::Config(ConfigError::Gate(
                GateConfigError::ConfirmNotAboveWake { .. }
            ))
        ),
        "{err:?}"
    );
    // The chain of causes reaches the gate's error.
    let source = std::error::Error::source(&err).and_then(std::error::Error::source);
    assert!(source.is_some_and(|s| s.to_string().contains("confirm")));
}
