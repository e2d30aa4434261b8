//! Stage 3 of the pipeline: feature frames → per-frame label posteriors,
//! with a tiny streaming ONNX network run by `tract-onnx`.
//!
//! The network is a causal dilated TCN exported with explicit state: each
//! call takes `chunk_frames` new feature frames plus the state tensors of
//! the previous call, and returns one posterior vector per frame plus the
//! new states (see `models/train/model.py`). Streaming over any number of
//! chunks equals running the network over the whole signal.
//!
//! [`KeywordModel`] is immutable and shareable (optimised once);
//! [`ModelState`] holds one stream's tensors.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tract_onnx::prelude::*;

use crate::error::{Error, ModelError};
use crate::features::MfccConfig;

/// Most labels a model may declare.
pub const MAX_LABELS: usize = 256;
/// Most recurrent state tensors a model may declare.
pub const MAX_STATES: usize = 64;
/// Most values in one declared state tensor (4 MB of `f32`).
pub const MAX_STATE_ELEMENTS: usize = 1 << 20;

/// The default model, trained by `models/train/` and embedded in the crate.
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../models/wakeguard_v1.onnx");

/// Metadata key in the ONNX `metadata_props`.
pub const METADATA_KEY: &str = "wakeguard";

/// Feature parameters a model was trained with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeatureSpec {
    /// Preset name, e.g. `"wakeguard_v1"`.
    pub preset: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Frame length in ms.
    pub frame_length_ms: f32,
    /// Hop in ms.
    pub frame_shift_ms: f32,
    /// Mel bins.
    pub n_mels: usize,
    /// Cepstra per frame.
    pub n_mfcc: usize,
    /// Lower filterbank edge, Hz.
    pub low_freq: f32,
    /// Upper filterbank edge, Hz.
    pub high_freq: f32,
}

/// What a model file says about itself (ONNX `metadata_props["wakeguard"]`, JSON).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelMetadata {
    /// Metadata format version (1).
    pub format: u32,
    /// Output labels in order; `"background"` first.
    pub labels: Vec<String>,
    /// The front end the model expects.
    pub features: FeatureSpec,
    /// Frames per model call.
    pub chunk_frames: usize,
    /// Receptive field minus one, in frames.
    pub context_frames: usize,
    /// Shapes of the state tensors, in input order after `features`.
    pub state_shapes: Vec<Vec<usize>>,
    /// Default detection threshold per label (every label but background).
    pub thresholds: BTreeMap<String, f32>,
    /// Trainable parameters.
    #[serde(default)]
    pub parameters: usize,
    /// Typical spoken duration per label in seconds (for event start times).
    #[serde(default)]
    pub durations: BTreeMap<String, f32>,
}

impl ModelMetadata {
    /// Index of `label`, or [`ModelError::UnknownLabel`].
    pub fn label_index(&self, label: &str) -> Result<usize, Error> {
        self.labels
            .iter()
            .position(|l| l == label)
            .ok_or_else(|| ModelError::UnknownLabel(label.to_string()).into())
    }

    fn validate(&self) -> Result<(), ModelError> {
        let bad = |reason: String| Err(ModelError::BadMetadata(reason));
        if self.format != 1 {
            return bad(format!(
                "metadata format {} (this build reads 1)",
                self.format
            ));
        }
        if self.labels.len() < 2 || self.labels[0] != "background" {
            return bad(
                "labels must start with \"background\" and name at least one keyword".into(),
            );
        }
        if self.chunk_frames == 0 || self.chunk_frames > 1000 {
            return bad(format!("chunk_frames {} out of range", self.chunk_frames));
        }
        if self.state_shapes.iter().any(|s| s.len() != 3 || s[0] != 1) {
            return bad("state shapes must be [1, channels, frames]".into());
        }
        // Hostile metadata must not make the runtime allocate without bound.
        if self.labels.len() > MAX_LABELS {
            return bad(format!(
                "{} labels, more than the limit of {MAX_LABELS}",
                self.labels.len()
            ));
        }
        if self.state_shapes.len() > MAX_STATES {
            return bad(format!(
                "{} state tensors, more than the limit of {MAX_STATES}",
                self.state_shapes.len()
            ));
        }
        for shape in &self.state_shapes {
            let n = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .unwrap_or(usize::MAX);
            if n > MAX_STATE_ELEMENTS {
                return bad(format!(
                    "state shape {shape:?} has more than {MAX_STATE_ELEMENTS} values"
                ));
            }
        }
        for label in self.labels.iter().skip(1) {
            match self.thresholds.get(label) {
                Some(t) if t.is_finite() && *t > 0.0 && *t <= 1.0 => {}
                Some(t) => return bad(format!("threshold {t} of {label} outside (0, 1]")),
                None => return bad(format!("no default threshold for {label}")),
            }
        }
        if let Some(extra) = self.thresholds.keys().find(|k| !self.labels.contains(k)) {
            return bad(format!("threshold for unknown label {extra}"));
        }
        Ok(())
    }

    /// Refuse a front end that differs from the one the model was trained on.
    pub fn check_front_end(&self, config: &MfccConfig) -> Result<(), Error> {
        let f = &self.features;
        let mismatch = |field: &'static str, model: String, front_end: String| {
            Err(ModelError::FrontEndMismatch {
                field,
                model,
                front_end,
            }
            .into())
        };
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-3 * a.abs().max(1.0);
        if f.sample_rate != config.sample_rate {
            return mismatch(
                "sample_rate",
                f.sample_rate.to_string(),
                config.sample_rate.to_string(),
            );
        }
        if f.n_mfcc != config.n_mfcc {
            return mismatch("n_mfcc", f.n_mfcc.to_string(), config.n_mfcc.to_string());
        }
        if f.n_mels != config.n_mels {
            return mismatch("n_mels", f.n_mels.to_string(), config.n_mels.to_string());
        }
        for (field, m, c) in [
            ("frame_length_ms", f.frame_length_ms, config.frame_length_ms),
            ("frame_shift_ms", f.frame_shift_ms, config.frame_shift_ms),
            ("low_freq", f.low_freq, config.low_freq),
            ("high_freq", f.high_freq, config.resolved_high_freq()),
        ] {
            if !close(m, c) {
                return mismatch(field, m.to_string(), c.to_string());
            }
        }
        Ok(())
    }

    /// The front-end config this model expects, if its preset is known to this build.
    pub fn front_end(&self) -> Result<MfccConfig, Error> {
        let config = match self.features.preset.as_str() {
            "wakeguard_v1" => MfccConfig::wakeguard_v1(),
            "kaldi" => MfccConfig::kaldi(),
            other => {
                return Err(
                    ModelError::BadMetadata(format!("unknown feature preset {other:?}")).into(),
                );
            }
        };
        self.check_front_end(&config)?;
        Ok(config)
    }
}

/// A loaded, optimised keyword model. Immutable; share it with `Arc`.
pub struct KeywordModel {
    plan: Arc<TypedRunnableModel>,
    meta: ModelMetadata,
    n_features: usize,
}

impl fmt::Debug for KeywordModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywordModel")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Checks what tract-onnx 0.23 would otherwise panic on while parsing: a
/// graph output (of the model or of a subgraph) that names no input,
/// initializer or node input or output of its graph (`parse_graph` indexes
/// its outlet map with it). Found by `fuzz/fuzz_targets/model.rs`.
pub(crate) fn check_graph_names(proto: &tract_onnx::pb::ModelProto) -> Result<(), ModelError> {
    fn check(graph: &tract_onnx::pb::GraphProto, depth: usize) -> Result<(), ModelError> {
        if depth > 16 {
            return Err(ModelError::Load(
                "subgraphs nested more than 16 deep".into(),
            ));
        }
        let mut names: std::collections::HashSet<&str> = graph
            .input
            .iter()
            .map(|i| i.name.as_str())
            .chain(graph.initializer.iter().map(|t| t.name.as_str()))
            .collect();
        for node in &graph.node {
            names.extend(node.input.iter().chain(&node.output).map(String::as_str));
            for attr in &node.attribute {
                for sub in attr.g.iter().chain(&attr.graphs) {
                    check(sub, depth + 1)?;
                }
            }
        }
        match graph
            .output
            .iter()
            .find(|o| !names.contains(o.name.as_str()))
        {
            Some(o) => Err(ModelError::Load(format!(
                "graph output {:?} is not produced by any node",
                o.name
            ))),
            None => Ok(()),
        }
    }
    match &proto.graph {
        Some(graph) => check(graph, 0),
        None => Ok(()),
    }
}

/// Runs `load`, turning a panic inside it (tract panics on some malformed
/// graphs, found by `fuzz/fuzz_targets/model.rs`) into [`ModelError::Load`].
pub(crate) fn catch_tract_panic<T>(
    what: &str,
    load: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(ModelError::Load(format!("{what}: malformed graph (tract panicked: {why})")).into())
    })
}

fn load_error(e: impl fmt::Display) -> Error {
    ModelError::Load(format!("{e:#}")).into()
}

impl KeywordModel {
    /// The model embedded in the crate ([`EMBEDDED_MODEL`]).
    pub fn embedded() -> Result<Self, Error> {
        Self::from_bytes(EMBEDDED_MODEL)
    }

    /// Load from a file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::from(ModelError::Load(format!("{}: {e}", path.display()))))?;
        Self::from_bytes(&bytes)
    }

    /// Load from ONNX bytes: parse, read and check the metadata, check the
    /// graph's input and output shapes against it, optimise once.
    ///
    /// A malformed graph that makes tract panic while parsing or optimising
    /// is caught and returned as [`ModelError::Load`] (with `panic = "abort"`
    /// it cannot be caught: load untrusted models in a process that unwinds).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        catch_tract_panic("keyword model", || Self::from_bytes_unguarded(bytes))
    }

    fn from_bytes_unguarded(bytes: &[u8]) -> Result<Self, Error> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(load_error)?;
        let json = proto
            .metadata_props
            .iter()
            .find(|p| p.key == METADATA_KEY)
            .map(|p| p.value.clone())
            .ok_or(ModelError::MissingMetadata)?;
        let meta: ModelMetadata =
            serde_json::from_str(&json).map_err(|e| ModelError::BadMetadata(e.to_string()))?;
        meta.validate()?;
        let n_features = meta.features.n_mfcc;

        check_graph_names(&proto)?;
        let mut model = onnx.model_for_proto_model(&proto).map_err(load_error)?;
        let n_inputs = 1 + meta.state_shapes.len();
        if model.inputs.len() != n_inputs || model.outputs.len() != n_inputs {
            return Err(ModelError::Shape(format!(
                "graph has {} inputs and {} outputs, metadata implies {n_inputs} of each",
                model.inputs.len(),
                model.outputs.len()
            ))
            .into());
        }
        model
            .set_input_fact(0, f32::fact([1, meta.chunk_frames, n_features]).into())
            .map_err(load_error)?;
        for (i, shape) in meta.state_shapes.iter().enumerate() {
            model
                .set_input_fact(1 + i, f32::fact(shape).into())
                .map_err(load_error)?;
        }
        let typed = model
            .into_optimized()
            .map_err(|e| ModelError::Shape(format!("{e:#}")))?;
        // The output shapes must be what the runtime will read.
        let expect_out: Vec<Vec<usize>> =
            std::iter::once(vec![1, meta.chunk_frames, meta.labels.len()])
                .chain(meta.state_shapes.iter().cloned())
                .collect();
        for (i, want) in expect_out.iter().enumerate() {
            let fact = typed.output_fact(i).map_err(load_error)?;
            let got = fact.shape.as_concrete().map(|s| s.to_vec());
            if got.as_deref() != Some(want.as_slice()) || fact.datum_type != f32::datum_type() {
                return Err(ModelError::Shape(format!(
                    "output {i} is {:?} {:?}, expected f32 {want:?}",
                    fact.datum_type, fact.shape
                ))
                .into());
            }
        }
        let plan = typed.into_runnable().map_err(load_error)?;
        Ok(KeywordModel {
            plan,
            meta,
            n_features,
        })
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.meta
    }

    /// Number of output labels (background included).
    pub fn n_labels(&self) -> usize {
        self.meta.labels.len()
    }

    /// Frames per call.
    pub fn chunk_frames(&self) -> usize {
        self.meta.chunk_frames
    }

    /// Feature values per frame.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// A fresh per-stream state (zeros).
    pub fn new_state(&self) -> Result<ModelState, Error> {
        let states = self
            .meta
            .state_shapes
            .iter()
            .map(|s| Tensor::zero::<f32>(s).map(|t| t.into_tvalue()))
            .collect::<TractResult<TVec<_>>>()
            .map_err(load_error)?;
        let runner = TypedSimpleState::new(&self.plan).map_err(load_error)?;
        Ok(ModelState {
            states,
            runner,
            input: Tensor::zero::<f32>(&[1, self.meta.chunk_frames, self.n_features])
                .map_err(load_error)?,
        })
    }

    /// Run one chunk: `features` holds `chunk_frames × n_features` values
    /// (time-major, as [`FeatureRing`](crate::features::FeatureRing) stores
    /// them); `probs` receives `chunk_frames × n_labels` posteriors,
    /// time-major. The state advances by one chunk.
    pub fn run_chunk(
        &self,
        state: &mut ModelState,
        features: &[f32],
        probs: &mut [f32],
    ) -> Result<(), Error> {
        let n_in = self.meta.chunk_frames * self.n_features;
        let n_out = self.meta.chunk_frames * self.meta.labels.len();
        if features.len() != n_in {
            return Err(Error::Shape {
                what: "model input chunk",
                expected: n_in,
                found: features.len(),
            });
        }
        if probs.len() != n_out {
            return Err(Error::Shape {
                what: "model output chunk",
                expected: n_out,
                found: probs.len(),
            });
        }
        if features.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Inference("non-finite feature".into()).into());
        }
        state
            .input
            .try_as_plain_ram_mut()
            .and_then(|mut view| {
                view.as_slice_mut::<f32>()?.copy_from_slice(features);
                Ok(())
            })
            .map_err(load_error)?;
        let mut inputs: TVec<TValue> = TVec::with_capacity(1 + state.states.len());
        inputs.push(state.input.clone().into_tvalue());
        inputs.extend(state.states.drain(..));
        let mut outputs = state
            .runner
            .run(inputs)
            .map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        let view = outputs[0]
            .try_as_plain_ram()
            .map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        let p = view
            .as_slice::<f32>()
            .map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        probs.copy_from_slice(p);
        state.states.extend(outputs.drain(1..));
        Ok(())
    }
}

/// One stream's model state: the network's state tensors and a reusable runner.
#[derive(Debug)]
pub struct ModelState {
    states: TVec<TValue>,
    runner: TypedSimpleState,
    input: Tensor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_bytes_are_a_load_error() {
        let err = KeywordModel::from_bytes(b"definitely not onnx").unwrap_err();
        assert!(matches!(err, Error::Model(_)), "{err}");
        let err = KeywordModel::from_bytes(&[]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Model(ModelError::MissingMetadata) | Error::Model(ModelError::Load(_))
            ),
            "{err}"
        );
    }

    /// The embedded model's metadata with one field replaced.
    fn metadata_with(field: &str, value: serde_json::Value) -> Result<(), ModelError> {
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &EMBEDDED_MODEL[..])
            .unwrap();
        let json = &proto
            .metadata_props
            .iter()
            .find(|p| p.key == METADATA_KEY)
            .unwrap()
            .value;
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        v[field] = value;
        let meta: ModelMetadata = serde_json::from_value(v).unwrap();
        meta.validate()
    }

    #[test]
    fn hostile_metadata_is_refused_before_any_allocation() {
        metadata_with("format", serde_json::json!(1)).unwrap();
        for shape in [
            serde_json::json!([[1, 100_000, 100_000]]),
            serde_json::json!([[1, usize::MAX, 2]]),
            serde_json::json!([[1, 1025, 1024]]),
        ] {
            let r = metadata_with("state_shapes", shape.clone());
            assert!(
                matches!(r, Err(ModelError::BadMetadata(_))),
                "{shape}: {r:?}"
            );
        }
        metadata_with("state_shapes", serde_json::json!([[1, 1024, 1024]])).unwrap();
        let many: Vec<[usize; 3]> = vec![[1, 1, 1]; MAX_STATES + 1];
        assert!(metadata_with("state_shapes", serde_json::json!(many)).is_err());
        assert!(metadata_with("chunk_frames", serde_json::json!(1_000_000)).is_err());
    }

    #[test]
    fn embedded_model_loads_and_matches_front_end() {
        let m = KeywordModel::embedded().unwrap();
        let meta = m.metadata();
        assert_eq!(meta.labels[0], "background");
        for l in [
            "alexa",
            "computer",
            "jarvis",
            "smart_mirror",
            "snowboy",
            "view_glass",
            "send_message",
            "yes",
            "no",
            "cancel",
        ] {
            meta.label_index(l).unwrap();
        }
        assert!(meta.label_index("hey_siri").is_err());
        meta.check_front_end(&MfccConfig::wakeguard_v1()).unwrap();
        assert!(matches!(
            meta.check_front_end(&MfccConfig::kaldi()),
            Err(Error::Model(ModelError::FrontEndMismatch { .. }))
        ));
    }

    #[test]
    fn run_chunk_checks_shapes_and_gives_distributions() {
        let m = KeywordModel::embedded().unwrap();
        let mut s = m.new_state().unwrap();
        let feats = vec![0.5f32; m.chunk_frames() * m.n_features()];
        let mut probs = vec![0.0f32; m.chunk_frames() * m.n_labels()];
        m.run_chunk(&mut s, &feats, &mut probs).unwrap();
        for row in probs.chunks(m.n_labels()) {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        }
        assert!(matches!(
            m.run_chunk(&mut s, &feats[1..], &mut probs),
            Err(Error::Shape { .. })
        ));
        let mut nan = feats.clone();
        nan[3] = f32::NAN;
        assert!(m.run_chunk(&mut s, &nan, &mut probs).is_err());
    }
}
