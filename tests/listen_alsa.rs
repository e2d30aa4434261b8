//! The real cpal input path, driven from WAV files (issue 15): an ALSA PCM
//! of the `file` plugin whose `infile` is the recording (over the `null`
//! plugin) is the microphone, defined in a test-local configuration
//! (`ALSA_CONFIG_PATH`). `listen` must print exactly what `send_message`
//! prints for the same recording, and what `detect` finds of the wake words.
//!
//! The `null` device delivers as fast as it is read, not in real time, so
//! `listen` is given the length of the input (`--seconds`) and a ring that
//! holds all of it (`--ring-seconds`): no overrun can happen. After the
//! recording, 30 s of digital silence play the part of `send_message`'s
//! drain (the recordings are padded to whole 100 ms hops so both cut the
//! audio at the same samples).
//!
//! Needs the `cpal` feature (the example is built by `cargo test --features
//! cpal`), Linux, and ALSA's configuration (`/usr/share/alsa/alsa.conf`).
#![cfg(all(feature = "cpal", target_os = "linux"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wakeguard::audio::{read_wav, resample_clip};

fn example(name: &str) -> PathBuf {
    // target/debug/deps/listen_alsa-HASH -> target/debug/examples/NAME
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name)
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory with an ALSA configuration defining `wavin` to read
/// `raw` (interleaved S16_LE).
struct Alsa {
    dir: PathBuf,
}

impl Alsa {
    fn new(tag: &str, raw: &[i16]) -> Self {
        let dir = std::env::temp_dir().join(format!("wakeguard-alsa-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = raw.iter().flat_map(|s| s.to_le_bytes()).collect();
        std::fs::write(dir.join("in.raw"), bytes).unwrap();
        let conf = format!(
            "pcm.wavin {{\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile \"{}\"\n  format \"raw\"\n  hint {{ show on description \"wakeguard test input\" }}\n}}\n",
            dir.join("in.raw").display()
        );
        std::fs::write(dir.join("asound.conf"), conf).unwrap();
        Alsa { dir }
    }

    fn listen(&self, args: &[&str]) -> Output {
        let config = format!(
            "/usr/share/alsa/alsa.conf:{}",
            self.dir.join("asound.conf").display()
        );
        Command::new(example("listen"))
            .env("ALSA_CONFIG_PATH", config)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Alsa {
    /// `listen --device wavin --contacts CONTACTS --json` over `seconds` of
    /// input with a ring of `ring` seconds, plus `extra` arguments.
    fn listen_flow(&self, contacts: &Path, seconds: f64, ring: &str, extra: &[&str]) -> Output {
        let seconds = format!("{seconds}");
        let mut args = vec![
            "--device",
            "wavin",
            "--contacts",
            contacts.to_str().unwrap(),
            "--json",
            "--seconds",
            &seconds,
            "--ring-seconds",
            ring,
        ];
        args.extend_from_slice(extra);
        self.listen(&args)
    }
}

impl Drop for Alsa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_wav(path: &Path, pcm: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in pcm {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn stdout(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `voice/scenario.wav` padded to whole hops.
fn padded(voice: &str, scenario: &str) -> Vec<i16> {
    let mut pcm = read_wav(manifest().join(format!("testdata/flows/{voice}/{scenario}.wav")))
        .unwrap()
        .to_i16();
    pcm.resize(pcm.len().div_ceil(1_600) * 1_600, 0);
    pcm
}

#[test]
fn listen_prints_what_send_message_prints_on_every_bundled_flow() {
    let flows = [
        ("m", "yes"),
        ("m", "no"),
        ("m", "blocked"),
        ("m", "silence"),
        ("f", "stop"),
        ("k", "yes"),
    ];
    for (voice, scenario) in flows {
        let pcm = padded(voice, scenario);
        let mut raw = pcm.clone();
        raw.resize(pcm.len() + 16_000 * 30, 0);
        let alsa = Alsa::new(&format!("{voice}-{scenario}"), &raw);
        let wav = alsa.dir.join("rec.wav");
        write_wav(&wav, &pcm);
        let contacts = manifest().join(format!("testdata/flows/{voice}/contacts.toml"));
        let contacts = contacts.to_str().unwrap();
        let expected = stdout(
            &Command::new(example("send_message"))
                .args(["--contacts", contacts, "--json", wav.to_str().unwrap()])
                .output()
                .unwrap(),
            "send_message",
        );
        let out = alsa.listen_flow(Path::new(contacts), raw.len() as f64 / 16_000.0, "60", &[]);
        let got = stdout(&out, "listen");
        assert!(
            expected.lines().count() >= 5,
            "{voice}/{scenario}: {expected}"
        );
        assert_eq!(got, expected, "{voice}/{scenario}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("alsa:wavin at 16000 Hz, 1 channel(s), i16"),
            "{stderr}"
        );
        assert!(!stderr.contains("lost"), "{stderr}");
    }
}

#[test]
fn listen_resamples_a_48k_stereo_device_and_still_dispatches() {
    let pcm = padded("m", "yes");
    let f: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32_768.0).collect();
    let up = resample_clip(&f, 16_000, 48_000).unwrap();
    let mut raw: Vec<i16> = up
        .iter()
        .flat_map(|&s| {
            let v = wakeguard::audio::f32_to_i16(s);
            [v, v]
        })
        .collect();
    raw.resize(raw.len() + 2 * 48_000 * 30, 0);
    let alsa = Alsa::new("48k", &raw);
    let contacts = manifest().join("testdata/flows/m/contacts.toml");
    let seconds = raw.len() as f64 / 2.0 / 48_000.0;
    let out = alsa.listen_flow(
        &contacts,
        seconds,
        "60",
        &["--rate", "48000", "--channels", "2"],
    );
    let got = stdout(&out, "listen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at 48000 Hz, 2 channel(s)"), "{stderr}");
    // The same events as from the 16 kHz file, each within 0.25 s (the
    // resampler delays the audio by a few ms, and gate decisions fall on the
    // ends of 100 ms hops).
    let wav = alsa.dir.join("rec.wav");
    write_wav(&wav, &pcm);
    let expected = stdout(
        &Command::new(example("send_message"))
            .args([
                "--contacts",
                contacts.to_str().unwrap(),
                "--json",
                wav.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
        "send_message",
    );
    let parse = |text: &str| -> Vec<(String, f64)> {
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["event"].as_str().unwrap().to_string(),
                    v["time"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (want, have) = (parse(&expected), parse(&got));
    assert_eq!(
        want.iter().map(|e| &e.0).collect::<Vec<_>>(),
        have.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "{got}"
    );
    for ((kind, t0), (_, t1)) in want.iter().zip(&have) {
        assert!((t0 - t1).abs() <= 0.25, "{kind}: {t0} vs {t1}");
    }
    assert_eq!(got.matches("\"event\": \"dispatched\"").count(), 1, "{got}");
    assert!(got.contains("\"recipient\": \"Alice\""), "{got}");
}

#[test]
fn listen_without_contacts_prints_the_wake_words_detect_finds() {
    let mut pcm = read_wav(manifest().join("testdata/demo.wav"))
        .unwrap()
        .to_i16();
    pcm.resize(pcm.len().div_ceil(1_600) * 1_600, 0);
    let mut raw = pcm.clone();
    raw.resize(pcm.len() + 16_000 * 2, 0);
    let alsa = Alsa::new("demo", &raw);
    let wav = alsa.dir.join("demo.wav");
    write_wav(&wav, &raw);
    let detect = stdout(
        &Command::new(example("detect"))
            .args(["--json", wav.to_str().unwrap()])
            .output()
            .unwrap(),
        "detect",
    );
    let wake = wakeguard::intent::FlowConfig::default().wake_labels;
    let expected: Vec<&str> = detect
        .lines()
        .filter(|l| {
            wake.iter()
                .any(|w| l.contains(&format!("\"label\": \"{w}\"")))
        })
        .collect();
    let seconds = format!("{}", raw.len() as f64 / 16_000.0);
    let got = stdout(
        &alsa.listen(&[
            "--device",
            "wavin",
            "--json",
            "--seconds",
            &seconds,
            "--ring-seconds",
            "60",
        ]),
        "listen",
    );
    assert!(!expected.is_empty(), "demo.wav has wake words: {detect}");
    assert_eq!(got.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn an_unknown_device_is_a_clear_error() {
    let alsa = Alsa::new("nodev", &[0; 160]);
    let out = alsa.listen(&["--device", "no-such-microphone"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no input device matches \"no-such-microphone\"")
            && stderr.contains("alsa:wavin"),
        "{stderr}"
    );
}

#[test]
fn list_devices_shows_the_test_input() {
    let alsa = Alsa::new("list", &[0; 160]);
    let got = stdout(&alsa.listen(&["--list-devices"]), "listen --list-devices");
    assert!(
        got.lines()
            .any(|l| l.contains("alsa:wavin") && l.contains("wakeguard test input")),
        "{got}"
    );
}

/// With a ring too small for a device that delivers faster than real time,
/// the callback overruns: every loss is reported, and no request with a loss
/// inside it is dispatched (here the request is always hit: the device
/// delivers the whole recording in a few milliseconds).
#[test]
fn overruns_on_the_real_path_are_reported_and_never_dispatched() {
    let pcm = padded("m", "yes");
    let mut raw = pcm.clone();
    raw.resize(pcm.len() + 16_000 * 30, 0);
    let alsa = Alsa::new("overrun", &raw);
    let contacts = manifest().join("testdata/flows/m/contacts.toml");
    let out = alsa.listen_flow(&contacts, raw.len() as f64 / 16_000.0, "0.1", &[]);
    let got = stdout(&out, "listen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(got.contains("\"event\": \"audio_lost\""), "{got}\n{stderr}");
    assert!(stderr.contains("frames lost"), "{stderr}");
    // Between a request's accepted wake and its dispatch, no audio was lost.
    let mut lost_in_request = false;
    for line in got.lines() {
        if line.contains("WakeAccepted") {
            lost_in_request = false;
        }
        if line.contains("\"event\": \"audio_lost\"") {
            lost_in_request = true;
        }
        if line.contains("\"event\": \"dispatched\"") {
            assert!(!lost_in_request, "dispatched a request with a hole: {got}");
        }
    }
}

/// No microphone: ALSA's default input names a card that does not exist.
#[test]
fn no_input_device_is_a_clear_error() {
    let alsa = Alsa::new("nomic", &[0; 160]);
    let conf = alsa.dir.join("asound.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n");
    std::fs::write(&conf, text).unwrap();
    let out = alsa.listen(&["--seconds", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("listen: no audio input device found"),
        "{stderr}"
    );
}
