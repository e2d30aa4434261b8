"""pytest suite of the Python bindings: behaviour, errors, and the same
results as the Rust examples on the bundled recordings.

The comparison runs the Rust examples `detect` and `send_message`; it looks
for them in $WAKEGUARD_EXAMPLES (default: target/debug/examples of the
repository; build them with `cargo build --example detect --example send_message`).
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import wakeguard

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
EXAMPLES = Path(os.environ.get("WAKEGUARD_EXAMPLES", ROOT / "target" / "debug" / "examples"))
FLOWS = sorted(p for p in (TESTDATA / "flows").glob("*/*.wav") if not p.name.startswith("enroll_"))


def rust_lines(*args):
    exe = EXAMPLES / args[0]
    assert exe.exists(), f"{exe} missing: cargo build --example {args[0]}"
    out = subprocess.run([str(exe), *map(str, args[1:])], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def run_flow(contacts, wav, chunk=1600):
    """The flow as send_message runs it, with dispatches as JSON dicts."""
    flow = wakeguard.MessageFlow(contacts, simulate_readback=True)
    audio = wakeguard.read_wav(wav)
    events = []

    def send(name, contact_id, pcm):
        assert pcm.dtype == np.int16 and len(pcm) > 0
        return json.loads(flow.dispatched_line(name, contact_id, len(pcm)))

    def settle():
        while flow.pending:
            events.append(flow.dispatch(send))

    for at in range(0, len(audio), chunk):
        events += flow.push(audio[at : at + chunk])
        settle()
    events += flow.drain(30.0)
    settle()
    assert not flow.busy
    return events


def test_version_and_rate():
    assert wakeguard.__version__ == "0.1.0"
    assert wakeguard.SAMPLE_RATE == 16000


def test_detector_finds_the_demo_keywords_in_any_chunking():
    audio = wakeguard.read_wav(TESTDATA / "demo.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    whole = wakeguard.Detector()
    found = whole.push(audio) + whole.finish()
    assert [d.label for d in found] == ["computer", "send_message", "yes"]
    for d in found:
        assert 0.0 < d.score <= 1.0
        assert d.start_sample < d.end_sample
        assert d.end == pytest.approx(d.end_sample / 16000)
    chunked = wakeguard.Detector()
    pieces = []
    for at in range(0, len(audio), 777):
        pieces += chunked.push(audio[at : at + 777])
    pieces += chunked.finish()
    assert [(d.label, d.end_sample) for d in pieces] == [(d.label, d.end_sample) for d in found]
    assert [d.score for d in pieces] == pytest.approx([d.score for d in found], abs=1e-6)
    # int16 input gives the same events.
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)
    ints = wakeguard.Detector()
    assert [d.label for d in ints.push(pcm) + ints.finish()] == ["computer", "send_message", "yes"]


def test_detector_matches_the_rust_example():
    rust = rust_lines("detect", "--json", TESTDATA / "demo.wav")
    det = wakeguard.Detector()
    audio = wakeguard.read_wav(TESTDATA / "demo.wav")
    ours = det.push(audio) + det.finish()
    assert [r["label"] for r in rust] == [d.label for d in ours]
    for r, d in zip(rust, ours):
        assert abs(r["start"] - d.start) <= 0.0005 + 1e-9
        assert abs(r["end"] - d.end) <= 0.0005 + 1e-9
        assert abs(r["score"] - d.score) <= 0.00005 + 1e-9


@pytest.mark.parametrize("wav", FLOWS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_flow_events_are_the_rust_examples_json_lines(wav):
    contacts = wav.parent / "contacts.toml"
    rust = rust_lines("send_message", "--json", "--contacts", contacts, wav)
    assert run_flow(contacts, wav) == rust


def test_thresholds_read_and_set_per_label():
    det = wakeguard.Detector()
    t = det.thresholds
    assert set(t) == set(det.labels) and "computer" in t
    det.thresholds = {"computer": 0.5}
    assert det.threshold("computer") == pytest.approx(0.5)
    det.set_threshold("yes", 0.7)
    assert det.thresholds["yes"] == pytest.approx(0.7)
    # A bad entry changes nothing.
    with pytest.raises(KeyError):
        det.thresholds = {"jarvis": 0.4, "no_such_word": 0.5}
    with pytest.raises(ValueError):
        det.thresholds = {"jarvis": 0.4, "computer": 1.5}
    assert det.threshold("jarvis") == pytest.approx(t["jarvis"])
    assert det.threshold("computer") == pytest.approx(0.5)
    with pytest.raises(ValueError):
        det.set_threshold("computer", 0.0)


def test_bad_input_raises_typed_errors(tmp_path):
    with pytest.raises(wakeguard.WavError, match="absent.wav"):
        wakeguard.read_wav(tmp_path / "absent.wav")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes((TESTDATA / "demo.wav").read_bytes()[:1000])
    with pytest.raises(wakeguard.WavError):
        wakeguard.read_wav(truncated)
    with pytest.raises(wakeguard.ModelError):
        wakeguard.Detector(model=tmp_path / "absent.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(wakeguard.ModelError):
        wakeguard.Detector(model=garbage)
    det = wakeguard.Detector()
    with pytest.raises(ValueError, match="sample 2"):
        det.push(np.array([0.0, 0.1, np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="int16 or float32"):
        det.push(np.zeros(10))  # float64
    with pytest.raises(ValueError):
        det.push("not audio")
    assert det.push(np.zeros(0, dtype=np.int16)) == []
    det.finish()
    with pytest.raises(wakeguard.StateError):
        det.push(np.zeros(10, dtype=np.int16))
    det.reset()
    assert det.samples_consumed == 0
    bad = tmp_path / "contacts.toml"
    bad.write_text('[[contact]]\nname = "Bob"\nsamples = ["bob.wav"]\nblockd = true\n')
    with pytest.raises(wakeguard.ContactsError, match="contacts.toml"):
        wakeguard.MessageFlow(bad)
    assert issubclass(wakeguard.ContactsError, wakeguard.WakeguardError)


def test_the_confirmed_message_is_dispatched_once_and_refusals_never():
    m = TESTDATA / "flows" / "m"
    flow = wakeguard.MessageFlow(m / "contacts.toml", simulate_readback=True)
    audio = wakeguard.read_wav(m / "yes.wav")
    with pytest.raises(wakeguard.StateError):
        flow.dispatch(print)
    for at in range(0, len(audio), 1600):
        flow.push(audio[at : at + 1600])
    flow.drain()
    assert flow.pending == 1
    got = flow.dispatch(lambda name, cid, pcm: (name, cid, len(pcm), int(np.abs(pcm.astype(np.int64)).sum())))
    assert got[:2] == ("Alice", 1) and got[2] > 16000 and got[3] > 0
    assert flow.pending == 0
    with pytest.raises(wakeguard.StateError):
        flow.dispatch(print)
    for refused in ["no", "blocked", "right", "cancel"]:
        events = run_flow(m / "contacts.toml", m / f"{refused}.wav")
        assert not [e for e in events if e["event"] == "dispatched"], refused
        assert [e for e in events if e["event"] == "cancelled"], refused


def test_manual_readback_and_contacts_from_pcm():
    m = TESTDATA / "flows" / "m"
    flow = wakeguard.MessageFlow()
    assert flow.contacts == []
    with pytest.raises(wakeguard.StateError):
        flow.drain()
    alice = [wakeguard.read_wav(m / f"enroll_alice_{i}.wav") for i in (1, 2)]
    cid = flow.add_contact("Alice", alice)
    assert flow.contacts == [(cid, "Alice", False)]
    with pytest.raises(wakeguard.ContactsError):
        flow.add_contact("Alice", alice)  # duplicate name
    with pytest.raises(wakeguard.ContactsError):
        flow.add_contact("Bob", [])
    with pytest.raises(ValueError, match="speech level"):
        flow.add_contact("Bob", [np.zeros(16000, dtype=np.int16)])  # no speech
    # Drive the read-back by hand: it finishes when the prompt would have.
    audio = wakeguard.read_wav(m / "yes.wav")
    due = None
    events = []
    for at in range(0, len(audio) + 16000 * 10, 1600):
        chunk = audio[at : at + 1600] if at < len(audio) else np.zeros(1600, dtype=np.float32)
        new = flow.push(chunk)
        events += new
        for e in new:
            if e["event"] == "readback":
                due = flow.now + wakeguard.spoken_duration(e["prompt"])
        if due is not None and flow.now >= due:
            due = None
            events += flow.readback_finished()
        if not flow.busy and any(e["event"] == "confirmed" for e in events):
            break
    assert [e["event"] for e in events if e["event"] in ("readback", "answer", "confirmed")] == [
        "readback",
        "answer",
        "confirmed",
    ]
    assert flow.pending == 1
    flow.block_contact(cid)
    assert flow.contacts == [(cid, "Alice", True)]
    flow.remove_contact(cid)
    assert flow.contacts == []
    with pytest.raises(wakeguard.ContactsError):
        flow.remove_contact(cid)
    assert any("confirmed" in line or "accepted" in line for line in flow.audit())


def test_audio_lost_cancels_the_request_in_progress():
    m = TESTDATA / "flows" / "m"
    flow = wakeguard.MessageFlow(m / "contacts.toml", simulate_readback=True)
    # While idle: audited, nothing cancelled.
    events = flow.audio_lost(160)
    assert [e["event"] for e in events] == ["audio_lost"] and events[0]["samples"] == 160
    audio = wakeguard.read_wav(m / "yes.wav")
    events = []
    lost = False
    for at in range(0, len(audio), 1600):
        events += flow.push(audio[at : at + 1600])
        if not lost and any(e["event"] == "readback" for e in events):
            events += flow.audio_lost(4800)
            lost = True
    events += flow.drain()
    assert lost
    assert [e["reason"] for e in events if e["event"] == "cancelled"] == ["audio lost (0.300s)"]
    assert flow.pending == 0 and not flow.busy
    assert any("audio lost" in line for line in flow.audit())
