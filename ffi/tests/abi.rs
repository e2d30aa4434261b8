//! The C ABI called the way C calls it: statuses, last-error messages,
//! null pointers, bad input, and the confirmed message handed out once.

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;

use wakeguard_c::*;

fn last_error() -> String {
    let p = wg_last_error();
    assert!(!p.is_null(), "a failing call sets the last error");
    // SAFETY: a NUL-terminated string owned by the library.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

#[derive(Default)]
struct Seen {
    json: Vec<String>,
    prompts: Vec<(u64, String)>,
    dispatched: Vec<(u32, String, usize, i64)>,
}

unsafe extern "C" fn on_detection(user: *mut c_void, d: *const WgDetection) {
    // SAFETY: the test passes a &mut Seen; the library a valid detection.
    let (seen, d) = unsafe { (&mut *(user as *mut Seen), &*d) };
    seen.json.push(
        unsafe { CStr::from_ptr(d.json) }
            .to_string_lossy()
            .into_owned(),
    );
}

unsafe extern "C" fn on_event(user: *mut c_void, e: *const WgFlowEvent) {
    // SAFETY: as above.
    let (seen, e) = unsafe { (&mut *(user as *mut Seen), &*e) };
    seen.json.push(
        unsafe { CStr::from_ptr(e.json) }
            .to_string_lossy()
            .into_owned(),
    );
    if !e.prompt.is_null() {
        let prompt = unsafe { CStr::from_ptr(e.prompt) }
            .to_string_lossy()
            .into_owned();
        seen.prompts.push((e.time_sample, prompt));
    }
}

unsafe extern "C" fn on_dispatch(user: *mut c_void, m: *const WgMessage) {
    // SAFETY: as above; the audio is valid during the callback.
    let (seen, m) = unsafe { (&mut *(user as *mut Seen), &*m) };
    let audio = unsafe { std::slice::from_raw_parts(m.samples, m.len) };
    let energy: i64 = audio.iter().map(|&s| i64::from(s).abs()).sum();
    let name = unsafe { CStr::from_ptr(m.recipient) }
        .to_string_lossy()
        .into_owned();
    seen.dispatched.push((m.contact_id, name, m.len, energy));
}

fn read_wav(path: &str) -> Vec<f32> {
    let (mut samples, mut len) = (ptr::null_mut(), 0usize);
    let path = cstr(path);
    // SAFETY: valid pointers.
    let status = unsafe { wg_read_wav(path.as_ptr(), &mut samples, &mut len) };
    assert_eq!(status, WG_OK, "{}", last_error());
    // SAFETY: from wg_read_wav.
    let copy = unsafe { std::slice::from_raw_parts(samples, len) }.to_vec();
    unsafe { wg_samples_free(samples, len) };
    copy
}

#[test]
fn version_is_the_crate_version() {
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(wg_version()) };
    assert_eq!(v.to_str(), Ok(env!("CARGO_PKG_VERSION")));
}

#[test]
fn null_pointers_and_bad_arguments_are_statuses_with_messages() {
    // A fresh thread has no last error.
    std::thread::spawn(|| assert!(wg_last_error().is_null()))
        .join()
        .expect("thread");
    unsafe {
        assert_eq!(wg_detector_new(ptr::null(), ptr::null_mut()), WG_ERR_NULL);
        assert!(last_error().contains("out"));
        assert_eq!(
            wg_detector_push_i16(ptr::null_mut(), ptr::null(), 0, None, ptr::null_mut()),
            WG_ERR_NULL
        );
        let missing = cstr("/nonexistent/model.onnx");
        let mut det = ptr::null_mut();
        assert_eq!(wg_detector_new(missing.as_ptr(), &mut det), WG_ERR_MODEL);
        assert!(det.is_null());
        assert_eq!(wg_detector_new(ptr::null(), &mut det), WG_OK);
        // Null samples with a non-zero length; an impossible length.
        assert_eq!(
            wg_detector_push_i16(det, ptr::null(), 5, None, ptr::null_mut()),
            WG_ERR_NULL
        );
        let one = [0i16];
        assert_eq!(
            wg_detector_push_i16(det, one.as_ptr(), usize::MAX, None, ptr::null_mut()),
            WG_ERR_INVALID_ARGUMENT
        );
        // NaN rejects the chunk.
        let nan = [0.0f32, f32::NAN];
        assert_eq!(
            wg_detector_push_f32(det, nan.as_ptr(), 2, None, ptr::null_mut()),
            WG_ERR_AUDIO
        );
        assert!(last_error().contains("sample 1"), "{}", last_error());
        // Labels and thresholds.
        let mut count = 0;
        assert_eq!(wg_detector_label_count(det, &mut count), WG_OK);
        assert!(count >= 2);
        let mut buf = [0 as c_char; 64];
        let mut needed = 0;
        assert_eq!(
            wg_detector_label(det, 1, buf.as_mut_ptr(), buf.len(), &mut needed),
            WG_OK
        );
        let label = CStr::from_ptr(buf.as_ptr()).to_owned();
        assert_eq!(needed, label.as_bytes().len() + 1);
        assert_eq!(
            wg_detector_label(det, count, buf.as_mut_ptr(), buf.len(), &mut needed),
            WG_ERR_INVALID_ARGUMENT
        );
        // Truncation keeps the NUL inside the buffer.
        let mut small = [1 as c_char; 3];
        assert_eq!(
            wg_detector_label(det, 1, small.as_mut_ptr(), 3, ptr::null_mut()),
            WG_OK
        );
        assert_eq!(small[2], 0);
        assert_eq!(wg_detector_set_threshold(det, label.as_ptr(), 0.7), WG_OK);
        let mut t = 0.0;
        assert_eq!(wg_detector_threshold(det, label.as_ptr(), &mut t), WG_OK);
        assert!((t - 0.7).abs() < 1e-6);
        assert_eq!(
            wg_detector_set_threshold(det, label.as_ptr(), 1.5),
            WG_ERR_INVALID_ARGUMENT
        );
        let unknown = cstr("no_such_label");
        assert_eq!(
            wg_detector_threshold(det, unknown.as_ptr(), &mut t),
            WG_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            wg_detector_threshold(det, label.as_ptr(), ptr::null_mut()),
            WG_ERR_NULL
        );
        // Push after finish is a state error until reset.
        assert_eq!(wg_detector_finish(det, None, ptr::null_mut()), WG_OK);
        assert_eq!(
            wg_detector_push_i16(det, one.as_ptr(), 1, None, ptr::null_mut()),
            WG_ERR_STATE
        );
        assert_eq!(wg_detector_reset(det), WG_OK);
        assert_eq!(
            wg_detector_push_i16(det, one.as_ptr(), 1, None, ptr::null_mut()),
            WG_OK
        );
        wg_detector_free(det);
        wg_detector_free(ptr::null_mut());
        // Bad WAV and bad contacts files.
        let (mut s, mut n) = (ptr::null_mut(), 0);
        let not_wav = cstr("Cargo.toml");
        assert_eq!(wg_read_wav(not_wav.as_ptr(), &mut s, &mut n), WG_ERR_WAV);
        assert!(s.is_null() && n == 0);
        let mut flow = ptr::null_mut();
        assert_eq!(
            wg_flow_new(not_wav.as_ptr(), ptr::null(), &mut flow),
            WG_ERR_CONTACTS
        );
        assert!(flow.is_null());
        wg_flow_free(ptr::null_mut());
        assert_eq!(wg_spoken_duration(ptr::null()), 0);
    }
}

#[test]
fn the_detector_reports_the_demo_keywords() {
    let audio = read_wav("../testdata/demo.wav");
    let mut seen = Seen::default();
    let mut det = ptr::null_mut();
    unsafe {
        assert_eq!(wg_detector_new(ptr::null(), &mut det), WG_OK);
        // Odd chunk sizes: the events do not depend on them.
        for chunk in audio.chunks(777) {
            let status = wg_detector_push_f32(
                det,
                chunk.as_ptr(),
                chunk.len(),
                Some(on_detection),
                (&mut seen as *mut Seen).cast(),
            );
            assert_eq!(status, WG_OK);
        }
        assert_eq!(
            wg_detector_finish(det, Some(on_detection), (&mut seen as *mut Seen).cast()),
            WG_OK
        );
        wg_detector_free(det);
    }
    let labels: Vec<String> = seen.json.iter().map(|l| serde_label(l)).collect();
    assert_eq!(labels, ["computer", "send_message", "yes"]);
}

fn serde_label(line: &str) -> String {
    let start = line.find("\"label\": \"").expect("label field") + 10;
    line[start..]
        .split('"')
        .next()
        .expect("closing quote")
        .to_string()
}

/// Plays `wav` through a flow; with `lose_at_readback`, reports 4 800
/// samples lost as soon as the read-back is issued.
fn flow_over(contacts: &str, wav: &str, seen: &mut Seen, lose_at_readback: bool) -> usize {
    let audio = read_wav(wav);
    let contacts = cstr(contacts);
    let mut flow = ptr::null_mut();
    let user = (seen as *mut Seen).cast::<c_void>();
    let mut dispatched = 0;
    unsafe {
        assert_eq!(
            wg_flow_new(contacts.as_ptr(), ptr::null(), &mut flow),
            WG_OK,
            "{}",
            last_error()
        );
        // Nothing confirmed yet: dispatch is a state error and never calls back.
        assert_eq!(
            wg_flow_dispatch(flow, Some(on_dispatch), user),
            WG_ERR_STATE
        );
        let mut due = None;
        let silence = vec![0.0f32; 1600 * 20 * 10];
        for chunk in audio.chunks(1600).chain(silence.chunks(1600)) {
            let mut pending = 0;
            let before = (&*user.cast::<Seen>()).prompts.len();
            assert_eq!(
                wg_flow_push_f32(
                    flow,
                    chunk.as_ptr(),
                    chunk.len(),
                    Some(on_event),
                    user,
                    &mut pending
                ),
                WG_OK
            );
            if let Some((at, prompt)) = (&*user.cast::<Seen>()).prompts.get(before) {
                due = Some(at + wg_spoken_duration(cstr(prompt).as_ptr()));
                if lose_at_readback {
                    assert_eq!(wg_flow_audio_lost(flow, 4_800, Some(on_event), user), WG_OK);
                    assert_eq!(
                        wg_flow_audio_lost(ptr::null_mut(), 1, Some(on_event), user),
                        WG_ERR_NULL
                    );
                }
            }
            let mut now = 0;
            assert_eq!(wg_flow_now(flow, &mut now), WG_OK);
            if due.is_some_and(|d| now >= d) {
                due = None;
                assert_eq!(
                    wg_flow_readback_finished(flow, Some(on_event), user, &mut pending),
                    WG_OK
                );
            }
            if pending > 0 {
                assert_eq!(wg_flow_dispatch(flow, Some(on_dispatch), user), WG_OK);
                dispatched += 1;
                // Once: the message is gone.
                assert_eq!(
                    wg_flow_dispatch(flow, Some(on_dispatch), user),
                    WG_ERR_STATE
                );
                assert_eq!(wg_flow_dispatch(flow, None, user), WG_ERR_NULL);
            }
        }
        let mut busy = -1;
        assert_eq!(wg_flow_busy(flow, &mut busy), WG_OK);
        assert_eq!(busy, 0);
        wg_flow_free(flow);
    }
    dispatched
}

#[test]
fn a_yes_flow_dispatches_once_and_a_no_flow_never() {
    let mut yes = Seen::default();
    assert_eq!(
        flow_over(
            "../testdata/flows/m/contacts.toml",
            "../testdata/flows/m/yes.wav",
            &mut yes,
            false
        ),
        1
    );
    assert_eq!(yes.dispatched.len(), 1);
    let (id, name, len, energy) = &yes.dispatched[0];
    assert_eq!((*id, name.as_str()), (1, "Alice"));
    assert!(
        *len > 16_000 && *energy > 0,
        "a real recording was handed out"
    );
    assert!(
        yes.json
            .iter()
            .any(|l| l.starts_with("{\"event\": \"confirmed\""))
    );
    assert_eq!(yes.prompts.len(), 1);

    for refused in ["no", "blocked", "right", "cancel"] {
        let mut seen = Seen::default();
        let wav = format!("../testdata/flows/m/{refused}.wav");
        if !std::path::Path::new(&wav).exists() {
            continue;
        }
        assert_eq!(
            flow_over("../testdata/flows/m/contacts.toml", &wav, &mut seen, false),
            0,
            "{refused}"
        );
        assert!(seen.dispatched.is_empty());
        assert!(
            seen.json
                .iter()
                .any(|l| l.starts_with("{\"event\": \"cancelled\"")),
            "{refused}"
        );
    }
}

#[test]
fn audio_lost_during_a_request_cancels_it() {
    let mut seen = Seen::default();
    let n = flow_over(
        "../testdata/flows/m/contacts.toml",
        "../testdata/flows/m/yes.wav",
        &mut seen,
        true,
    );
    assert_eq!(n, 0);
    assert!(seen.dispatched.is_empty());
    assert!(
        seen.json
            .iter()
            .any(|l| l.starts_with("{\"event\": \"audio_lost\"") && l.contains("\"samples\": 4800"))
    );
    assert!(
        seen.json
            .iter()
            .any(|l| l.contains("\"reason\": \"audio lost (0.300s)\"")),
        "{:?}",
        seen.json
    );
}

#[test]
fn contacts_added_from_pcm_are_checked_and_can_be_blocked() {
    let alice = read_wav("../testdata/flows/m/enroll_alice_1.wav");
    let pcm: Vec<i16> = alice
        .iter()
        .map(|&s| wakeguard::audio::f32_to_i16(s))
        .collect();
    let mut flow = ptr::null_mut();
    let name = cstr("Alice");
    unsafe {
        assert_eq!(wg_flow_new(ptr::null(), ptr::null(), &mut flow), WG_OK);
        let recs = [pcm.as_ptr()];
        let lens = [pcm.len()];
        let mut id = 0;
        assert_eq!(
            wg_flow_add_contact(
                flow,
                name.as_ptr(),
                recs.as_ptr(),
                lens.as_ptr(),
                0,
                &mut id
            ),
            WG_ERR_CONTACTS
        );
        assert_eq!(
            wg_flow_add_contact(
                flow,
                name.as_ptr(),
                recs.as_ptr(),
                lens.as_ptr(),
                6,
                &mut id
            ),
            WG_ERR_CONTACTS
        );
        assert_eq!(
            wg_flow_add_contact(flow, name.as_ptr(), ptr::null(), lens.as_ptr(), 1, &mut id),
            WG_ERR_NULL
        );
        assert_eq!(
            wg_flow_add_contact(
                flow,
                name.as_ptr(),
                recs.as_ptr(),
                lens.as_ptr(),
                1,
                &mut id
            ),
            WG_OK,
            "{}",
            last_error()
        );
        assert_eq!(id, 1);
        // The same name twice is refused.
        assert_eq!(
            wg_flow_add_contact(
                flow,
                name.as_ptr(),
                recs.as_ptr(),
                lens.as_ptr(),
                1,
                &mut id
            ),
            WG_ERR_CONTACTS
        );
        // Silence has no name in it.
        let quiet = [0i16; 16_000];
        let (qr, ql) = ([quiet.as_ptr()], [quiet.len()]);
        let bob = cstr("Bob");
        assert_ne!(
            wg_flow_add_contact(flow, bob.as_ptr(), qr.as_ptr(), ql.as_ptr(), 1, &mut id),
            WG_OK
        );
        assert_eq!(wg_flow_block_contact(flow, 1, 1), WG_OK);
        assert_eq!(wg_flow_block_contact(flow, 1, 0), WG_OK);
        assert_eq!(wg_flow_remove_contact(flow, 1), WG_OK);
        assert_eq!(wg_flow_remove_contact(flow, 1), WG_ERR_CONTACTS);
        assert_eq!(wg_flow_block_contact(flow, 42, 1), WG_ERR_CONTACTS);
        wg_flow_free(flow);
    }
}
