//! The C ABI of wakeguard. The header `wakeguard.h` next to this crate is
//! generated from this file by cbindgen (`tests/header.rs` checks that it
//! is current; `WAKEGUARD_BLESS=1 cargo test -p wakeguard-ffi --test header`
//! rewrites it).
//!
//! Conventions, for every function:
//! - The return value is a status: [`WG_OK`] or one of the `WG_ERR_*`
//!   codes. On error, [`wg_last_error`] gives the message on this thread.
//! - Handles (`WgDetector`, `WgFlow`) are created by a `*_new` function,
//!   owned by the caller, and freed exactly once by the matching `*_free`.
//!   A handle may be moved to another thread but not used from two threads
//!   at once; different handles are independent.
//! - Pointers handed to a callback (labels, JSON lines, audio) are valid
//!   only during that call; copy what you keep.
//! - No panic crosses the boundary: each entry point catches it and returns
//!   [`WG_ERR_PANIC`]. Null pointers where a value is required and lengths
//!   that cannot describe a buffer give [`WG_ERR_NULL`] /
//!   [`WG_ERR_INVALID_ARGUMENT`].
//!
//! The confirmed recording of a request is only reachable through
//! [`wg_flow_dispatch`], once per confirmed message.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use wakeguard::audio::{WavOptions, pcm_i16_from_f32, read_wav_with};
use wakeguard::contacts::{ContactBook, ContactId, MatchConfig};
use wakeguard::contacts_file::load_contacts;
use wakeguard::detector::{Detection, Detector, DetectorConfig};
use wakeguard::features::MfccPlan;
use wakeguard::gate::{ConfirmedMessage, GateEvent, GateStateKind};
use wakeguard::intent::{
    FlowConfig, FlowEvent, MessageFlow, check_enrollment_count, enroll_from_pcm, spoken_duration,
};
use wakeguard::model::KeywordModel;
use wakeguard::{Error, ModelError, report};

/// Success.
pub const WG_OK: i32 = 0;
/// A pointer that must not be null was null.
pub const WG_ERR_NULL: i32 = 1;
/// An argument is out of range: a length too large for memory, a string
/// that is not UTF-8, an unknown label, a threshold outside [0, 1].
pub const WG_ERR_INVALID_ARGUMENT: i32 = 2;
/// A WAV file could not be read or is not in a supported format.
pub const WG_ERR_WAV: i32 = 3;
/// A model could not be loaded or run.
pub const WG_ERR_MODEL: i32 = 4;
/// A sample was NaN or infinite; the chunk was rejected as a whole.
pub const WG_ERR_AUDIO: i32 = 5;
/// A contacts file or a contact operation was refused.
pub const WG_ERR_CONTACTS: i32 = 6;
/// The call does not fit the object's state: pushing after finish, or
/// dispatching when no confirmed message is pending.
pub const WG_ERR_STATE: i32 = 7;
/// A bug: the library panicked. The handle should be freed.
pub const WG_ERR_PANIC: i32 = 8;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_error(message: String) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(message));
}

/// An error of this layer: status and message.
struct Failure(i32, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Wav { .. } => WG_ERR_WAV,
            Error::Model(ModelError::UnknownLabel(_)) => WG_ERR_INVALID_ARGUMENT,
            Error::Model(_) => WG_ERR_MODEL,
            Error::NonFiniteSample { .. } => WG_ERR_AUDIO,
            Error::Contact(_) | Error::ContactsFile { .. } => WG_ERR_CONTACTS,
            Error::Finished => WG_ERR_STATE,
            _ => WG_ERR_INVALID_ARGUMENT,
        };
        Failure(code, e.to_string())
    }
}

fn null(what: &str) -> Failure {
    Failure(WG_ERR_NULL, format!("{what} is null"))
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure(WG_ERR_INVALID_ARGUMENT, message.into())
}

/// Runs `body`, turning its failure or panic into a status and the
/// thread's last error.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => WG_OK,
        Ok(Err(Failure(code, message))) => {
            set_error(message);
            code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_error(format!("internal error (panic): {what}"));
            WG_ERR_PANIC
        }
    }
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string valid for this call.
unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| invalid(format!("{what} is not UTF-8")))
}

/// A buffer argument of `len` elements; null is allowed only with `len` 0.
///
/// # Safety
/// `ptr` is null or points to `len` initialised elements valid for this call.
unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!("{what}: length {len} cannot be a buffer")));
    }
    // SAFETY: non-null, `len` elements by the caller's contract, size checked.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A mutable reference to a handle.
///
/// # Safety
/// `ptr` is null or a live handle from the matching `*_new`, not in use
/// elsewhere.
unsafe fn handle<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// The library's version, e.g. `"0.1.0"`: a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn wg_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The message of the last error on this thread, or null if no call on
/// this thread has failed. Valid until the next failing call on this
/// thread; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn wg_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |s| s.as_ptr()))
}

/// The estimated time, in samples at 16 kHz, that speaking `prompt` takes
/// (0.3 s plus 65 ms per character): what the `send_message` example waits
/// before it reports the read-back finished. 0 if `prompt` is null or not
/// UTF-8.
///
/// # Safety
/// `prompt` is null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_spoken_duration(prompt: *const c_char) -> u64 {
    // SAFETY: the caller's contract.
    match unsafe { text(prompt, "prompt") } {
        Ok(p) => spoken_duration(p),
        Err(_) => 0,
    }
}

/// Reads a WAV file as 16 kHz mono `float` samples in [-1, 1], converting
/// other rates and averaging channels, at most one hour. On success
/// `*samples` owns `*len` samples (free them with [`wg_samples_free`]); on
/// error `*samples` is null and `*len` 0.
///
/// # Safety
/// `path` is a NUL-terminated string; `samples` and `len` point to
/// writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_read_wav(
    path: *const c_char,
    samples: *mut *mut f32,
    len: *mut usize,
) -> i32 {
    guard(|| {
        if samples.is_null() || len.is_null() {
            return Err(null("samples/len"));
        }
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe {
            *samples = std::ptr::null_mut();
            *len = 0;
        }
        // SAFETY: the caller's contract.
        let path = unsafe { text(path, "path") }?;
        let audio = read_wav_with(path, WavOptions::convert())?;
        let boxed = audio.samples.into_boxed_slice();
        let n = boxed.len();
        // SAFETY: as above.
        unsafe {
            *len = n;
            *samples = Box::into_raw(boxed).cast();
        }
        Ok(())
    })
}

/// Frees samples from [`wg_read_wav`]; `len` must be the length it gave.
/// Null is ignored.
///
/// # Safety
/// `samples`/`len` come from one successful [`wg_read_wav`], freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_samples_free(samples: *mut f32, len: usize) {
    if samples.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a boxed slice of `len` from wg_read_wav, by contract.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(samples, len)) });
    }));
}

// ---------------------------------------------------------------------------
// Detector

/// A keyword detection, handed to a [`WgDetectionFn`].
#[repr(C)]
pub struct WgDetection {
    /// The label, e.g. `"computer"` (NUL-terminated; valid during the callback).
    pub label: *const c_char,
    /// Peak smoothed score, in [0, 1].
    pub score: f32,
    /// Estimated first sample of the keyword (16 kHz, from the stream's start).
    pub start_sample: u64,
    /// Sample at which the detector fired, just after the keyword's end.
    pub end_sample: u64,
    /// The line `detect --json` prints for it (valid during the callback).
    pub json: *const c_char,
}

/// Receives each detection; `user` is the pointer given with the call.
pub type WgDetectionFn =
    Option<unsafe extern "C" fn(user: *mut c_void, detection: *const WgDetection)>;

/// A streaming keyword detector (opaque). Not thread-safe; movable.
pub struct WgDetector {
    detector: Detector,
    found: Vec<Detection>,
}

/// Creates a detector over the model embedded in the library
/// (`model_path` null) or an ONNX model file with wakeguard metadata, at
/// the model's per-label thresholds. On success `*out` is the new handle.
///
/// # Safety
/// `model_path` is null or a NUL-terminated string; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_new(
    model_path: *const c_char,
    out: *mut *mut WgDetector,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: checked non-null.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: the caller's contract.
        let model = unsafe { load_model(model_path) }?;
        let detector = Detector::new(model, DetectorConfig::default())?;
        let boxed = Box::new(WgDetector {
            detector,
            found: Vec::new(),
        });
        // SAFETY: checked non-null.
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

/// # Safety
/// `path` is null or a NUL-terminated string.
unsafe fn load_model(path: *const c_char) -> Result<Arc<KeywordModel>, Failure> {
    let model = if path.is_null() {
        KeywordModel::embedded()?
    } else {
        // SAFETY: the caller's contract.
        KeywordModel::from_path(Path::new(unsafe { text(path, "model_path") }?))?
    };
    Ok(Arc::new(model))
}

fn deliver(found: &mut Vec<Detection>, callback: WgDetectionFn, user: *mut c_void) {
    for d in found.drain(..) {
        let Some(cb) = callback else { continue };
        let label = c_string(&d.label);
        let json = c_string(&report::detection_json(&d));
        let event = WgDetection {
            label: label.as_ptr(),
            score: d.score,
            start_sample: d.start_sample,
            end_sample: d.end_sample,
            json: json.as_ptr(),
        };
        // SAFETY: a C callback given by the caller, with its own pointer.
        unsafe { cb(user, &event) };
    }
}

/// The body of both detector pushes.
///
/// # Safety
/// As [`wg_detector_push_i16`].
unsafe fn detector_push<S: wakeguard::features::PcmSample>(
    detector: *mut WgDetector,
    samples: *const S,
    len: usize,
    callback: WgDetectionFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (d, pcm) = unsafe {
            (
                handle(detector, "detector")?,
                slice(samples, len, "samples")?,
            )
        };
        let WgDetector { detector, found } = d;
        detector.push(pcm, |e| found.push(e))?;
        deliver(found, callback, user);
        Ok(())
    })
}

/// Pushes `len` samples of 16 kHz mono audio (`int16_t`, any count, also
/// 0). Each detection the chunk completes is passed to `callback` (may be
/// null to discard them) before the call returns.
///
/// # Safety
/// `detector` is a live handle; `samples` points to `len` samples (or is
/// null with `len` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_push_i16(
    detector: *mut WgDetector,
    samples: *const i16,
    len: usize,
    callback: WgDetectionFn,
    user: *mut c_void,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { detector_push(detector, samples, len, callback, user) }
}

/// As [`wg_detector_push_i16`] for `float` samples in [-1, 1]. A NaN or
/// infinite sample rejects the whole chunk with [`WG_ERR_AUDIO`].
///
/// # Safety
/// As [`wg_detector_push_i16`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_push_f32(
    detector: *mut WgDetector,
    samples: *const f32,
    len: usize,
    callback: WgDetectionFn,
    user: *mut c_void,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { detector_push(detector, samples, len, callback, user) }
}

/// Ends the stream: reports a keyword still in progress to `callback`.
/// Further pushes fail with [`WG_ERR_STATE`] until [`wg_detector_reset`].
///
/// # Safety
/// `detector` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_finish(
    detector: *mut WgDetector,
    callback: WgDetectionFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let WgDetector { detector, found } = unsafe { handle(detector, "detector") }?;
        detector.finish(|e| found.push(e))?;
        deliver(found, callback, user);
        Ok(())
    })
}

/// Starts a new stream (sample counter back to 0), keeping the thresholds.
///
/// # Safety
/// `detector` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_reset(detector: *mut WgDetector) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        Ok(unsafe { handle(detector, "detector") }?.detector.reset()?)
    })
}

/// The threshold of `label` into `*threshold`.
///
/// # Safety
/// `detector` is a live handle, `label` a NUL-terminated string,
/// `threshold` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_threshold(
    detector: *mut WgDetector,
    label: *const c_char,
    threshold: *mut f32,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (d, label) = unsafe { (handle(detector, "detector")?, text(label, "label")?) };
        let t = d.detector.threshold(label)?;
        // SAFETY: checked below before the write.
        unsafe { *threshold.as_mut().ok_or_else(|| null("threshold"))? = t };
        Ok(())
    })
}

/// Sets the threshold of `label` (in [0, 1]).
///
/// # Safety
/// `detector` is a live handle, `label` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_set_threshold(
    detector: *mut WgDetector,
    label: *const c_char,
    threshold: f32,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (d, label) = unsafe { (handle(detector, "detector")?, text(label, "label")?) };
        Ok(d.detector.set_threshold(label, threshold)?)
    })
}

/// The number of labels of the detector's model into `*count`. Label 0
/// is the background class; keywords are 1 to count - 1.
///
/// # Safety
/// `detector` is a live handle; `count` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_label_count(
    detector: *mut WgDetector,
    count: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { handle(detector, "detector") }?;
        // SAFETY: checked before the write.
        unsafe { *count.as_mut().ok_or_else(|| null("count"))? = d.detector.labels().len() };
        Ok(())
    })
}

/// Copies label `index` (NUL-terminated, truncated to fit) into `buf` of
/// `buf_len` bytes; `*needed` (if not null) receives the bytes the whole
/// label needs, NUL included.
///
/// # Safety
/// `detector` is a live handle; `buf` is writable for `buf_len` bytes (or
/// null with `buf_len` 0); `needed` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_label(
    detector: *mut WgDetector,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { handle(detector, "detector") }?;
        let labels = d.detector.labels();
        let label = labels
            .get(index)
            .ok_or_else(|| invalid(format!("label index {index} of {}", labels.len())))?;
        let bytes = label.as_bytes();
        // SAFETY: null or writable by contract.
        if let Some(n) = unsafe { needed.as_mut() } {
            *n = bytes.len() + 1;
        }
        if buf_len > 0 {
            if buf.is_null() {
                return Err(null("buf"));
            }
            let n = bytes.len().min(buf_len - 1);
            // SAFETY: `buf` holds `buf_len` > n bytes by contract.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr().cast(), buf, n);
                *buf.add(n) = 0;
            }
        }
        Ok(())
    })
}

/// Frees a detector. Null is ignored.
///
/// # Safety
/// `detector` is null or a live handle, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_detector_free(detector: *mut WgDetector) {
    if !detector.is_null() {
        // SAFETY: from wg_detector_new, freed once, by contract.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(detector) })
        }));
    }
}

// ---------------------------------------------------------------------------
// The send-message flow

/// One flow event, handed to a [`WgFlowEventFn`]. All strings are
/// NUL-terminated and valid during the callback only.
#[repr(C)]
pub struct WgFlowEvent {
    /// The kind: `"wake"`, `"intent"`, `"name"`, `"contact"`,
    /// `"readback"`, `"answer"`, `"confirmed"`, `"cancelled"`, `"refused"`,
    /// `"audio_lost"` or `"gate"` (see the `report` module of the Rust crate).
    pub kind: *const c_char,
    /// Sample time of the event (16 kHz, from the stream's start).
    pub time_sample: u64,
    /// The line `send_message --json` prints for it.
    pub json: *const c_char,
    /// For `"readback"`: the prompt to speak, e.g. "Send a 3-second
    /// message to Alice?". Null for other kinds. Speak it, then call
    /// [`wg_flow_readback_finished`]; the answer is only listened for after
    /// that call, so the device's own prompt is never taken as the answer.
    pub prompt: *const c_char,
}

/// Receives each flow event; `user` is the pointer given with the call.
pub type WgFlowEventFn = Option<unsafe extern "C" fn(user: *mut c_void, event: *const WgFlowEvent)>;

/// A confirmed message, handed to a [`WgDispatchFn`] by
/// [`wg_flow_dispatch`]. Valid during the callback only: the audio is
/// overwritten with zeros when it returns.
#[repr(C)]
pub struct WgMessage {
    /// The recipient's contact id.
    pub contact_id: u32,
    /// The recipient's name (NUL-terminated).
    pub recipient: *const c_char,
    /// The recording to send: 16 kHz mono `int16_t`.
    pub samples: *const i16,
    /// Number of samples.
    pub len: usize,
    /// The line `send_message --json` prints when it dispatches.
    pub json: *const c_char,
}

/// Receives the confirmed message; `user` is the pointer given with the call.
pub type WgDispatchFn = Option<unsafe extern "C" fn(user: *mut c_void, message: *const WgMessage)>;

/// The send-message flow over one audio stream (opaque): wake word,
/// intent, spoken name, recording, read-back, answer, confirmation. Not
/// thread-safe; movable.
pub struct WgFlow {
    flow: MessageFlow,
    speech_rms: f32,
    events: Vec<FlowEvent>,
    pcm: Vec<i16>,
    confirmed: VecDeque<ConfirmedMessage>,
}

/// Creates a flow over the embedded model (`model_path` null) or a model
/// file, with the contacts of a `CONTACTS.toml` file (`contacts_path`; null
/// for none, then add them with [`wg_flow_add_contact`]).
///
/// # Safety
/// The paths are null or NUL-terminated strings; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_new(
    contacts_path: *const c_char,
    model_path: *const c_char,
    out: *mut *mut WgFlow,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: checked non-null.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: the caller's contract.
        let model = unsafe { load_model(model_path) }?;
        let config = FlowConfig::default();
        let speech_rms = config.speech_rms;
        let book = if contacts_path.is_null() {
            ContactBook::with_match_config(MatchConfig::default()).map_err(Error::from)?
        } else {
            let plan = Arc::new(MfccPlan::new(model.metadata().front_end()?)?);
            // SAFETY: the caller's contract.
            let path = unsafe { text(contacts_path, "contacts_path") }?;
            load_contacts(Path::new(path), &plan, speech_rms, MatchConfig::default())?
        };
        let flow = MessageFlow::new(model, book, config)?;
        let boxed = Box::new(WgFlow {
            flow,
            speech_rms,
            events: Vec::new(),
            pcm: Vec::new(),
            confirmed: VecDeque::new(),
        });
        // SAFETY: checked non-null.
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

fn deliver_flow(events: &mut Vec<FlowEvent>, callback: WgFlowEventFn, user: *mut c_void) {
    for e in events.drain(..) {
        let Some(cb) = callback else { continue };
        let line = report::flow_event(&e);
        let kind = c_string(line.kind);
        let json = c_string(&line.json());
        let prompt = match &e {
            FlowEvent::Gate {
                event: GateEvent::Readback(r),
                ..
            } => Some(c_string(&r.prompt)),
            _ => None,
        };
        let event = WgFlowEvent {
            kind: kind.as_ptr(),
            time_sample: line.at,
            json: json.as_ptr(),
            prompt: prompt.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
        };
        // SAFETY: a C callback given by the caller, with its own pointer.
        unsafe { cb(user, &event) };
    }
}

/// Stores a confirmed message and reports how many are waiting.
fn settle(f: &mut WgFlow, confirmed: Option<ConfirmedMessage>, pending: *mut usize) {
    f.confirmed.extend(confirmed);
    // SAFETY: null or writable by the entry point's contract.
    if let Some(p) = unsafe { pending.as_mut() } {
        *p = f.confirmed.len();
    }
}

/// Pushes `len` samples of 16 kHz mono `int16_t` microphone audio (any
/// count). Events go to `callback` (null to discard) before the call
/// returns. `*pending` (if not null) receives the number of confirmed
/// messages waiting for [`wg_flow_dispatch`].
///
/// # Safety
/// `flow` is a live handle; `samples` points to `len` samples (or is null
/// with `len` 0); `pending` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_push_i16(
    flow: *mut WgFlow,
    samples: *const i16,
    len: usize,
    callback: WgFlowEventFn,
    user: *mut c_void,
    pending: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (f, pcm) = unsafe { (handle(flow, "flow")?, slice(samples, len, "samples")?) };
        let confirmed = f.flow.push(pcm, &mut f.events);
        deliver_flow(&mut f.events, callback, user);
        settle(f, confirmed?, pending);
        Ok(())
    })
}

/// As [`wg_flow_push_i16`] for `float` samples in [-1, 1] (converted to
/// `int16_t` by rounding, as `send_message` does). A NaN or infinite sample
/// rejects the whole chunk with [`WG_ERR_AUDIO`].
///
/// # Safety
/// As [`wg_flow_push_i16`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_push_f32(
    flow: *mut WgFlow,
    samples: *const f32,
    len: usize,
    callback: WgFlowEventFn,
    user: *mut c_void,
    pending: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (f, input) = unsafe { (handle(flow, "flow")?, slice(samples, len, "samples")?) };
        let mut pcm = std::mem::take(&mut f.pcm);
        let result =
            pcm_i16_from_f32(input, &mut pcm).and_then(|()| f.flow.push(&pcm, &mut f.events));
        f.pcm = pcm;
        deliver_flow(&mut f.events, callback, user);
        settle(f, result?, pending);
        Ok(())
    })
}

/// Tells the flow that the read-back prompt of the request in progress has
/// finished playing: the answer window opens now. Events go to `callback`.
///
/// # Safety
/// `flow` is a live handle; `pending` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_readback_finished(
    flow: *mut WgFlow,
    callback: WgFlowEventFn,
    user: *mut c_void,
    pending: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        let confirmed = f.flow.readback_finished(&mut f.events);
        deliver_flow(&mut f.events, callback, user);
        settle(f, confirmed, pending);
        Ok(())
    })
}

/// Cancels the request in progress (its audio is wiped). Events go to
/// `callback`.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_cancel(
    flow: *mut WgFlow,
    callback: WgFlowEventFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        f.flow.cancel(&mut f.events);
        deliver_flow(&mut f.events, callback, user);
        Ok(())
    })
}

/// About `samples` samples (at 16 kHz; 0 if unknown) of the stream were
/// lost before the audio pushed next: the application's capture overran or
/// its driver reported an error. Written to the audit log; a request in
/// progress is cancelled (its audio wiped), since it has a hole. Events
/// (an `"audio_lost"` line, and the cancellation) go to `callback`. Call
/// it from the thread that pushes, never from the audio callback.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_audio_lost(
    flow: *mut WgFlow,
    samples: u64,
    callback: WgFlowEventFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        f.flow.audio_lost(samples, &mut f.events);
        deliver_flow(&mut f.events, callback, user);
        Ok(())
    })
}

/// Hands the oldest confirmed message to `callback`, once, then wipes its
/// audio. [`WG_ERR_STATE`] if no confirmed message is waiting; the callback
/// is then not called.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_dispatch(
    flow: *mut WgFlow,
    callback: WgDispatchFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        let cb = callback.ok_or_else(|| null("callback"))?;
        let message = f
            .confirmed
            .pop_front()
            .ok_or_else(|| Failure(WG_ERR_STATE, "no confirmed message to dispatch".to_string()))?;
        let now = f.flow.now();
        message.dispatch(|contact, name, audio| {
            let recipient = c_string(name);
            let json = c_string(&report::dispatched(now, contact, name, audio.len()).json());
            let m = WgMessage {
                contact_id: contact.0,
                recipient: recipient.as_ptr(),
                samples: audio.as_ptr(),
                len: audio.len(),
                json: json.as_ptr(),
            };
            // SAFETY: a C callback given by the caller, with its own pointer.
            unsafe { cb(user, &m) };
        });
        Ok(())
    })
}

/// Whether a request is in progress (`*busy` 1) or the flow is idle (0).
///
/// # Safety
/// `flow` is a live handle; `busy` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_busy(flow: *mut WgFlow, busy: *mut i32) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        let value = i32::from(f.flow.gate().state() != GateStateKind::Idle);
        // SAFETY: checked before the write.
        unsafe { *busy.as_mut().ok_or_else(|| null("busy"))? = value };
        Ok(())
    })
}

/// Samples pushed so far into `*now`.
///
/// # Safety
/// `flow` is a live handle; `now` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_now(flow: *mut WgFlow, now: *mut u64) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        // SAFETY: checked before the write.
        unsafe { *now.as_mut().ok_or_else(|| null("now"))? = f.flow.now() };
        Ok(())
    })
}

/// Enrolls a contact from `count` (1 to 5) recordings of the user saying
/// the name: `recordings[i]` points to `lengths[i]` samples of 16 kHz mono
/// `int16_t`. `*id` (if not null) receives the new contact's id.
///
/// # Safety
/// `flow` is a live handle; `name` a NUL-terminated string; `recordings`
/// and `lengths` point to `count` entries each; `id` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_add_contact(
    flow: *mut WgFlow,
    name: *const c_char,
    recordings: *const *const i16,
    lengths: *const usize,
    count: usize,
    id: *mut u32,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let (f, name) = unsafe { (handle(flow, "flow")?, text(name, "name")?) };
        // The count first: `recordings` and `lengths` are read only once it is sane.
        check_enrollment_count(count)?;
        // SAFETY: `count` entries each, by contract.
        let (ptrs, lens) = unsafe {
            (
                slice(recordings, count, "recordings")?,
                slice(lengths, count, "lengths")?,
            )
        };
        let pcms = ptrs
            .iter()
            .zip(lens)
            // SAFETY: each recording holds its length, by contract.
            .map(|(&p, &n)| unsafe { slice(p, n, "recording") })
            .collect::<Result<Vec<_>, _>>()?;
        let plan = Arc::clone(f.flow.plan());
        let new_id = enroll_from_pcm(
            f.flow.gate_mut().contacts_mut(),
            &plan,
            name,
            &pcms,
            f.speech_rms,
        )?;
        // SAFETY: null or writable by contract.
        if let Some(out) = unsafe { id.as_mut() } {
            *out = new_id.0;
        }
        Ok(())
    })
}

/// Blocks (`blocked` non-zero) or unblocks a contact. A request to a
/// contact blocked while it is pending is cancelled.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_block_contact(flow: *mut WgFlow, id: u32, blocked: i32) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let book = unsafe { handle(flow, "flow") }?
            .flow
            .gate_mut()
            .contacts_mut();
        let result = if blocked != 0 {
            book.block(ContactId(id))
        } else {
            book.unblock(ContactId(id))
        };
        Ok(result.map_err(Error::from)?)
    })
}

/// Removes a contact and wipes its enrollment. A request to it that is
/// pending is cancelled.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_remove_contact(flow: *mut WgFlow, id: u32) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let book = unsafe { handle(flow, "flow") }?
            .flow
            .gate_mut()
            .contacts_mut();
        Ok(book.remove(ContactId(id)).map_err(Error::from)?)
    })
}

/// Receives one audit line (NUL-terminated, valid during the callback).
pub type WgAuditFn = Option<unsafe extern "C" fn(user: *mut c_void, line: *const c_char)>;

/// Passes every entry of the gate's audit log (decisions with scores and
/// reasons, never audio) to `callback`, oldest first.
///
/// # Safety
/// `flow` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_audit(
    flow: *mut WgFlow,
    callback: WgAuditFn,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's contract.
        let f = unsafe { handle(flow, "flow") }?;
        let cb = callback.ok_or_else(|| null("callback"))?;
        for entry in f.flow.gate().audit() {
            let line = c_string(&entry.to_string());
            // SAFETY: a C callback given by the caller.
            unsafe { cb(user, line.as_ptr()) };
        }
        Ok(())
    })
}

/// Frees a flow; a request in progress and undispatched confirmed messages
/// are wiped. Null is ignored.
///
/// # Safety
/// `flow` is null or a live handle, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wg_flow_free(flow: *mut WgFlow) {
    if !flow.is_null() {
        // SAFETY: from wg_flow_new, freed once, by contract.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(flow) })));
    }
}
