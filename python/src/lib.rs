//! The Python extension `wakeguard._native` (PyO3). The package
//! `wakeguard` (python/wakeguard/) re-exports it with docs and type stubs.
//!
//! Audio arrives as any buffer of `int16` or `float32` samples (NumPy
//! arrays, `array.array`), 16 kHz mono; it is copied, so the caller's array
//! is never kept. Heavy work runs with the GIL released.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::buffer::{PyBuffer, PyUntypedBuffer};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use zeroize::Zeroize;

use wakeguard::audio::{WavOptions, pcm_i16_from_f32, read_wav_with};
use wakeguard::contacts::{ContactBook, ContactId, MatchConfig};
use wakeguard::contacts_file::load_contacts;
use wakeguard::detector::{Detection as RsDetection, DetectorConfig};
use wakeguard::features::MfccPlan;
use wakeguard::gate::{ConfirmedMessage, GateStateKind};
use wakeguard::intent::{
    FlowConfig, FlowEvent, SimulatedDevice, check_enrollment_count, enroll_from_pcm,
};
use wakeguard::model::KeywordModel;
use wakeguard::{Error, SAMPLE_RATE, report};

create_exception!(
    _native,
    WakeguardError,
    PyException,
    "Any error of the wakeguard library."
);
create_exception!(
    _native,
    WavError,
    WakeguardError,
    "A WAV file could not be read."
);
create_exception!(
    _native,
    ModelError,
    WakeguardError,
    "A model could not be loaded or run."
);
create_exception!(
    _native,
    ContactsError,
    WakeguardError,
    "A contacts file or operation was refused."
);
create_exception!(
    _native,
    StateError,
    WakeguardError,
    "The call does not fit the object's state."
);

fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::Wav { .. } => WavError::new_err(message),
        Error::Model(wakeguard::ModelError::UnknownLabel(_)) => PyKeyError::new_err(message),
        Error::Model(_) => ModelError::new_err(message),
        Error::Contact(_) | Error::ContactsFile { .. } => ContactsError::new_err(message),
        Error::Finished => StateError::new_err(message),
        Error::NonFiniteSample { .. } | Error::Shape { .. } | Error::Config(_) => {
            PyValueError::new_err(message)
        }
        _ => WakeguardError::new_err(message),
    }
}

/// Samples copied out of a Python buffer.
enum Pcm {
    I16(Vec<i16>),
    F32(Vec<f32>),
}

fn samples(obj: &Bound<'_, PyAny>) -> PyResult<Pcm> {
    let py = obj.py();
    if let Ok(b) = PyBuffer::<i16>::get(obj) {
        return Ok(Pcm::I16(b.to_vec(py)?));
    }
    if let Ok(b) = PyBuffer::<f32>::get(obj) {
        return Ok(Pcm::F32(b.to_vec(py)?));
    }
    let found = match PyUntypedBuffer::get(obj) {
        Ok(b) => format!("a buffer of format {:?}", b.format().to_string_lossy()),
        Err(_) => format!("{}", obj.get_type().name()?),
    };
    Err(PyValueError::new_err(format!(
        "samples must be int16 or float32 (16 kHz mono), got {found}; \
         convert with numpy: samples.astype(numpy.float32)"
    )))
}

fn model(path: Option<PathBuf>) -> Result<Arc<KeywordModel>, Error> {
    Ok(Arc::new(match path {
        Some(p) => KeywordModel::from_path(p)?,
        None => KeywordModel::embedded()?,
    }))
}

fn seconds(samples: u64) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

/// One keyword detection.
#[pyclass(frozen, get_all, module = "wakeguard")]
pub struct Detection {
    /// The label, e.g. "computer".
    label: String,
    /// Peak smoothed score in [0, 1].
    score: f32,
    /// Estimated first sample of the keyword (16 kHz, from the stream's start).
    start_sample: u64,
    /// Sample at which the detector fired, just after the keyword's end.
    end_sample: u64,
    /// start_sample in seconds.
    start: f64,
    /// end_sample in seconds.
    end: f64,
}

impl From<RsDetection> for Detection {
    fn from(d: RsDetection) -> Self {
        Detection {
            label: d.label.to_string(),
            score: d.score,
            start_sample: d.start_sample,
            end_sample: d.end_sample,
            start: seconds(d.start_sample),
            end: seconds(d.end_sample),
        }
    }
}

#[pymethods]
impl Detection {
    fn __repr__(&self) -> String {
        format!(
            "Detection(label={:?}, score={:.4}, start={:.3}, end={:.3})",
            self.label, self.score, self.start, self.end
        )
    }
}

/// A streaming keyword detector.
#[pyclass(module = "wakeguard")]
pub struct Detector {
    // tract's run state is Send but not Sync: one call at a time.
    inner: Mutex<wakeguard::detector::Detector>,
}

/// Locks a handle's state; a panic in an earlier call poisoned it.
fn lock<T>(m: &Mutex<T>) -> PyResult<MutexGuard<'_, T>> {
    m.lock().map_err(|_| {
        StateError::new_err("an earlier call failed inside the library; create a new object")
    })
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (model=None))]
    fn new(py: Python<'_>, model: Option<PathBuf>) -> PyResult<Self> {
        let inner = py
            .detach(|| {
                let m = self::model(model)?;
                wakeguard::detector::Detector::new(m, DetectorConfig::default())
            })
            .map_err(to_py)?;
        Ok(Detector {
            inner: Mutex::new(inner),
        })
    }

    /// Push a chunk of 16 kHz mono audio (int16, or float32 in [-1, 1]);
    /// returns the detections it completed.
    fn push(&self, py: Python<'_>, samples: &Bound<'_, PyAny>) -> PyResult<Vec<Detection>> {
        let pcm = self::samples(samples)?;
        // The lock is taken without the GIL, so a thread waiting for it
        // never holds the GIL that the running call needs to return.
        let found = py.detach(|| {
            let mut inner = lock(&self.inner)?;
            let mut found = Vec::new();
            match &pcm {
                Pcm::I16(s) => inner.push(s.as_slice(), |d| found.push(d)),
                Pcm::F32(s) => inner.push(s.as_slice(), |d| found.push(d)),
            }
            .map_err(to_py)?;
            PyResult::Ok(found)
        })?;
        Ok(found.into_iter().map(Detection::from).collect())
    }

    /// End the stream; returns a detection still in progress.
    fn finish(&self, py: Python<'_>) -> PyResult<Vec<Detection>> {
        let found = py.detach(|| {
            let mut found = Vec::new();
            lock(&self.inner)?
                .finish(|d| found.push(d))
                .map_err(to_py)?;
            PyResult::Ok(found)
        })?;
        Ok(found.into_iter().map(Detection::from).collect())
    }

    /// Start a new stream (sample counter back to 0), keeping the thresholds.
    fn reset(&self) -> PyResult<()> {
        lock(&self.inner)?.reset().map_err(to_py)
    }

    /// The keyword labels of the model.
    #[getter]
    fn labels(&self) -> PyResult<Vec<String>> {
        Ok(lock(&self.inner)?
            .labels()
            .iter()
            .skip(1)
            .map(|l| l.to_string())
            .collect())
    }

    /// Samples pushed since the stream started.
    #[getter]
    fn samples_consumed(&self) -> PyResult<u64> {
        Ok(lock(&self.inner)?.samples_consumed())
    }

    /// The per-label thresholds as a dict (a copy). Assigning a dict sets
    /// the thresholds of the labels it names.
    #[getter]
    fn get_thresholds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let inner = lock(&self.inner)?;
        for label in inner.labels().iter().skip(1) {
            d.set_item(&**label, inner.threshold(label).map_err(to_py)?)?;
        }
        Ok(d)
    }

    #[setter]
    fn set_thresholds(&self, values: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut parsed = Vec::with_capacity(values.len());
        for (k, v) in values.iter() {
            parsed.push((k.extract::<String>()?, v.extract::<f32>()?));
        }
        let mut inner = lock(&self.inner)?;
        // Check every entry before changing any.
        for (label, value) in &parsed {
            inner.threshold(label).map_err(to_py)?;
            if !(*value > 0.0 && *value <= 1.0) {
                return Err(PyValueError::new_err(format!(
                    "threshold of {label:?} must be in (0, 1], got {value}"
                )));
            }
        }
        for (label, value) in parsed {
            inner.set_threshold(&label, value).map_err(to_py)?;
        }
        Ok(())
    }

    /// The threshold of one label.
    fn threshold(&self, label: &str) -> PyResult<f32> {
        lock(&self.inner)?.threshold(label).map_err(to_py)
    }

    /// Set the threshold of one label (in (0, 1]).
    fn set_threshold(&self, label: &str, value: f32) -> PyResult<()> {
        lock(&self.inner)?
            .set_threshold(label, value)
            .map_err(to_py)
    }
}

/// The send-message flow over one audio stream.
#[pyclass(module = "wakeguard")]
pub struct MessageFlow {
    // tract's run state is Send but not Sync: one call at a time.
    state: Mutex<FlowState>,
}

struct FlowState {
    device: Device,
    speech_rms: f32,
    events: Vec<FlowEvent>,
    confirmed: VecDeque<ConfirmedMessage>,
}

/// Who reports the end of the read-back: the application
/// (`readback_finished()`), or the simulation that send_message uses.
enum Device {
    Live(wakeguard::intent::MessageFlow),
    Simulated(SimulatedDevice),
}

impl FlowState {
    fn flow(&self) -> &wakeguard::intent::MessageFlow {
        match &self.device {
            Device::Live(f) => f,
            Device::Simulated(d) => d.flow(),
        }
    }

    fn flow_mut(&mut self) -> &mut wakeguard::intent::MessageFlow {
        match &mut self.device {
            Device::Live(f) => f,
            Device::Simulated(d) => d.flow_mut(),
        }
    }

    /// After a step: the events as JSON lines, a confirmed message kept for
    /// dispatch(). The events of a failed step are dropped with it.
    fn settle(&mut self, result: Result<Option<ConfirmedMessage>, Error>) -> PyResult<Vec<String>> {
        let lines = self
            .events
            .drain(..)
            .map(|e| report::flow_event(&e).json())
            .collect();
        self.confirmed.extend(result.map_err(to_py)?);
        Ok(lines)
    }
}

#[pymethods]
impl MessageFlow {
    #[new]
    #[pyo3(signature = (contacts=None, model=None, simulate_readback=false))]
    fn new(
        py: Python<'_>,
        contacts: Option<PathBuf>,
        model: Option<PathBuf>,
        simulate_readback: bool,
    ) -> PyResult<Self> {
        let config = FlowConfig::default();
        let speech_rms = config.speech_rms;
        let flow = py
            .detach(|| {
                let model = self::model(model)?;
                let book = match contacts {
                    Some(path) => {
                        let plan = Arc::new(MfccPlan::new(model.metadata().front_end()?)?);
                        load_contacts(&path, &plan, speech_rms, MatchConfig::default())?
                    }
                    None => ContactBook::with_match_config(MatchConfig::default())?,
                };
                wakeguard::intent::MessageFlow::new(model, book, config)
            })
            .map_err(to_py)?;
        Ok(MessageFlow {
            state: Mutex::new(FlowState {
                device: if simulate_readback {
                    Device::Simulated(SimulatedDevice::new(flow))
                } else {
                    Device::Live(flow)
                },
                speech_rms,
                events: Vec::new(),
                confirmed: VecDeque::new(),
            }),
        })
    }

    /// Push a chunk of 16 kHz mono microphone audio (int16, or float32 in
    /// [-1, 1], converted as send_message does); returns the flow events it
    /// produced as dicts.
    fn push<'py>(
        &self,
        py: Python<'py>,
        samples: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let pcm = i16_samples(samples)?;
        let lines = py.detach(|| {
            let mut st = lock(&self.state)?;
            let st = &mut *st;
            let result = match &mut st.device {
                Device::Live(f) => f.push(&pcm, &mut st.events),
                Device::Simulated(d) => d.push(&pcm, &mut st.events),
            };
            st.settle(result)
        })?;
        json_dicts(py, lines)
    }

    /// The read-back prompt has finished playing: the answer window opens
    /// now. Returns the events.
    fn readback_finished<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let lines = py.detach(|| {
            let mut st = lock(&self.state)?;
            let st = &mut *st;
            let confirmed = match &mut st.device {
                Device::Live(f) => f.readback_finished(&mut st.events),
                Device::Simulated(_) => {
                    return Err(StateError::new_err(
                        "this flow simulates the read-back (simulate_readback=True)",
                    ));
                }
            };
            st.settle(Ok(confirmed))
        })?;
        json_dicts(py, lines)
    }

    /// Cancel the request in progress (its audio is wiped). Returns the events.
    fn cancel<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let lines = py.detach(|| {
            let mut st = lock(&self.state)?;
            let st = &mut *st;
            let (device, events) = (&mut st.device, &mut st.events);
            match device {
                Device::Live(f) => f.cancel(events),
                Device::Simulated(d) => d.flow_mut().cancel(events),
            }
            st.settle(Ok(None))
        })?;
        json_dicts(py, lines)
    }

    /// About `samples` samples (16 kHz; 0 if unknown) of the stream were lost
    /// before the audio pushed next (a capture overrun): audited, and the
    /// request in progress is cancelled. Returns the events.
    fn audio_lost<'py>(&self, py: Python<'py>, samples: u64) -> PyResult<Bound<'py, PyList>> {
        let lines = py.detach(|| {
            let mut st = lock(&self.state)?;
            let st = &mut *st;
            let (device, events) = (&mut st.device, &mut st.events);
            match device {
                Device::Live(f) => f.audio_lost(samples, events),
                Device::Simulated(d) => d.audio_lost(samples, events),
            }
            st.settle(Ok(None))
        })?;
        json_dicts(py, lines)
    }

    /// End of a recording (simulate_readback=True only): digital silence,
    /// at most max_seconds, until the request in progress is decided, as
    /// send_message does. Returns the events.
    #[pyo3(signature = (max_seconds=30.0))]
    fn drain<'py>(&self, py: Python<'py>, max_seconds: f64) -> PyResult<Bound<'py, PyList>> {
        if !(max_seconds.is_finite() && (0.0..=3600.0).contains(&max_seconds)) {
            return Err(PyValueError::new_err("max_seconds must be in [0, 3600]"));
        }
        let max_samples = (max_seconds * f64::from(SAMPLE_RATE)) as u64;
        let lines = py.detach(|| {
            let mut st = lock(&self.state)?;
            let st = &mut *st;
            let result = match &mut st.device {
                Device::Simulated(d) => d.drain(max_samples, &mut st.events),
                Device::Live(_) => {
                    return Err(StateError::new_err(
                        "drain() needs a flow made with simulate_readback=True",
                    ));
                }
            };
            st.settle(result)
        })?;
        json_dicts(py, lines)
    }

    /// Number of confirmed messages waiting for dispatch().
    #[getter]
    fn pending(&self) -> PyResult<usize> {
        Ok(lock(&self.state)?.confirmed.len())
    }

    /// Whether a request is in progress.
    #[getter]
    fn busy(&self) -> PyResult<bool> {
        Ok(lock(&self.state)?.flow().gate().state() != GateStateKind::Idle)
    }

    /// Samples pushed so far.
    #[getter]
    fn now(&self) -> PyResult<u64> {
        Ok(lock(&self.state)?.flow().now())
    }

    /// Hand the oldest confirmed message to callback(recipient, contact_id,
    /// audio) once, audio a NumPy int16 array (a copy; the library's own
    /// copy is then wiped). Returns what the callback returns. Raises
    /// StateError when no confirmed message is waiting.
    fn dispatch(&self, py: Python<'_>, callback: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !callback.is_callable() {
            return Err(PyValueError::new_err("callback must be callable"));
        }
        // Taken out under the lock, handed out without it: the callback may
        // use this flow.
        let message = lock(&self.state)?
            .confirmed
            .pop_front()
            .ok_or_else(|| StateError::new_err("no confirmed message to dispatch"))?;
        let numpy = py.import("numpy")?;
        message.dispatch(|contact, name, audio| {
            let mut bytes = to_le_bytes(audio);
            let array = numpy
                .call_method1("frombuffer", (PyBytes::new(py, &bytes), "<i2"))?
                .call_method0("copy")?;
            bytes.zeroize();
            Ok(callback.call1((name, contact.0, array))?.unbind())
        })
    }

    /// The JSON line send_message prints for the dispatch of a message of
    /// `samples` samples to `recipient` (contact_id) now.
    fn dispatched_line(
        &self,
        recipient: &str,
        contact_id: u32,
        samples: usize,
    ) -> PyResult<String> {
        let now = lock(&self.state)?.flow().now();
        Ok(report::dispatched(now, ContactId(contact_id), recipient, samples).json())
    }

    /// Enroll a contact from 1 to 5 recordings (int16 or float32 arrays) of
    /// the user saying the name; returns its id.
    fn add_contact(
        &self,
        py: Python<'_>,
        name: &str,
        recordings: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<u32> {
        check_enrollment_count(recordings.len()).map_err(to_py)?;
        let pcms = recordings
            .iter()
            .map(i16_samples)
            .collect::<PyResult<Vec<_>>>()?;
        py.detach(|| {
            let mut st = lock(&self.state)?;
            let plan = Arc::clone(st.flow().plan());
            let speech_rms = st.speech_rms;
            let recordings: Vec<&[i16]> = pcms.iter().map(|p| &p[..]).collect();
            let id = enroll_from_pcm(
                st.flow_mut().gate_mut().contacts_mut(),
                &plan,
                name,
                &recordings,
                speech_rms,
            )
            .map_err(to_py)?;
            Ok(id.0)
        })
    }

    /// Block (or, with blocked=False, unblock) a contact. A pending request
    /// to it is cancelled at the next input.
    #[pyo3(signature = (contact_id, blocked=true))]
    fn block_contact(&self, contact_id: u32, blocked: bool) -> PyResult<()> {
        let mut st = lock(&self.state)?;
        let book = st.flow_mut().gate_mut().contacts_mut();
        let r = if blocked {
            book.block(ContactId(contact_id))
        } else {
            book.unblock(ContactId(contact_id))
        };
        r.map_err(|e| to_py(e.into()))
    }

    /// Remove a contact and wipe its enrollment.
    fn remove_contact(&self, contact_id: u32) -> PyResult<()> {
        let mut st = lock(&self.state)?;
        st.flow_mut()
            .gate_mut()
            .contacts_mut()
            .remove(ContactId(contact_id))
            .map_err(|e| to_py(e.into()))
    }

    /// The enrolled contacts as (contact_id, name, blocked) tuples.
    #[getter]
    fn contacts(&self) -> PyResult<Vec<(u32, String, bool)>> {
        let st = lock(&self.state)?;
        Ok(st
            .flow()
            .gate()
            .contacts()
            .iter()
            .map(|(id, name, blocked)| (id.0, name.to_string(), blocked))
            .collect())
    }

    /// The gate's audit log (decisions with scores and reasons, never audio).
    fn audit(&self) -> PyResult<Vec<String>> {
        let st = lock(&self.state)?;
        Ok(st
            .flow()
            .gate()
            .audit()
            .iter()
            .map(|e| e.to_string())
            .collect())
    }
}

/// Samples as int16: int16 buffers as they are, float32 converted as
/// send_message converts them (NaN refused).
fn i16_samples(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i16>> {
    match samples(obj)? {
        Pcm::I16(s) => Ok(s),
        Pcm::F32(s) => {
            let mut out = Vec::with_capacity(s.len());
            pcm_i16_from_f32(&s, &mut out).map_err(to_py)?;
            Ok(out)
        }
    }
}

/// JSON lines as a list of dicts, through Python's own json module.
fn json_dicts(py: Python<'_>, lines: Vec<String>) -> PyResult<Bound<'_, PyList>> {
    let json = py.import("json")?;
    let out = PyList::empty(py);
    for line in lines {
        out.append(json.call_method1("loads", (line,))?)?;
    }
    Ok(out)
}

fn to_le_bytes(audio: &[i16]) -> Vec<u8> {
    audio.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Read a WAV file as a float32 NumPy array of 16 kHz mono samples in
/// [-1, 1] (other rates are resampled, channels averaged; at most one hour).
#[pyfunction]
fn read_wav<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let audio = py
        .detach(|| read_wav_with(&path, WavOptions::convert()))
        .map_err(to_py)?;
    let bytes: Vec<u8> = audio.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    py.import("numpy")?
        .call_method1("frombuffer", (PyBytes::new(py, &bytes), "<f4"))?
        .call_method0("copy")
}

/// The time, in samples at 16 kHz, that speaking `prompt` takes (0.3 s
/// plus 65 ms per character): how long send_message lets a read-back play.
#[pyfunction]
fn spoken_duration(prompt: &str) -> u64 {
    wakeguard::intent::spoken_duration(prompt)
}

/// The native part of the wakeguard package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SAMPLE_RATE", SAMPLE_RATE)?;
    m.add_class::<Detection>()?;
    m.add_class::<Detector>()?;
    m.add_class::<MessageFlow>()?;
    m.add_function(wrap_pyfunction!(read_wav, m)?)?;
    m.add_function(wrap_pyfunction!(spoken_duration, m)?)?;
    m.add("WakeguardError", py.get_type::<WakeguardError>())?;
    m.add("WavError", py.get_type::<WavError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ContactsError", py.get_type::<ContactsError>())?;
    m.add("StateError", py.get_type::<StateError>())?;
    Ok(())
}
