//! A day-long soak of the send-message flow (issue 16), behind `--ignored`:
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! 24 hours of simulated microphone input — looped chatter at varied gain,
//! seeded noise, digital silence, and every 10 minutes a whole request
//! ("Smart mirror, send a message to Alice … yes", `testdata/flows/m`) —
//! pushed through `SimulatedDevice` twice: in seeded random chunks of 1 to
//! 8,000 samples, and in fixed 1,600-sample chunks. Checked: the two runs
//! give identical events (kind, and the sample time of every wake, intent
//! and name event; the answer's start within one chunk, since the simulated
//! device reports the read-back finished at the end of a chunk) and
//! dispatches; every request is dispatched
//! exactly once, to Alice; the gate's decision times never decrease and no
//! event time passes the samples pushed; the
//! flow's clock equals the samples pushed (u64 sample counters: 1.4e9 here,
//! 1.15e15 years of headroom); resident memory after the first hour and at
//! the end differ by less than 8 MB.

use std::path::{Path, PathBuf};

use wakeguard::audio::read_wav;
use wakeguard::intent::FlowEvent;

const HOUR: u64 = 3_600 * 16_000;
const REQUEST_EVERY: u64 = 600 * 16_000;

mod flow_device;
use flow_device::device;

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The 24-hour microphone, generated piece by piece (never held whole).
struct Day {
    request: Vec<i16>,
    chatter: Vec<i16>,
    rng: Rng,
    pos: u64,
    /// The current piece and how far it has been read.
    piece: Vec<i16>,
    at: usize,
}

impl Day {
    fn new() -> Self {
        Day {
            request: read_wav(testdata("flows/m/yes.wav")).unwrap().to_i16(),
            chatter: read_wav(testdata("clips/chatter.wav")).unwrap().to_i16(),
            rng: Rng(0x50a4_2026_1202_0001),
            pos: 0,
            piece: Vec::new(),
            at: 0,
        }
    }

    fn next_piece(&mut self) {
        self.at = 0;
        // A request at every 10-minute mark, background in between.
        let next_request = self.pos.div_ceil(REQUEST_EVERY) * REQUEST_EVERY;
        if self.pos == next_request {
            self.piece = self.request.clone();
            return;
        }
        let room = (next_request - self.pos) as usize;
        let len = (16_000 * (5 + self.rng.below(60)) as usize).min(room);
        self.piece = match self.rng.below(3) {
            0 => vec![0; len],
            1 => (0..len)
                .map(|_| (self.rng.below(121) as i16) - 60)
                .collect(),
            _ => {
                let gain = 1 + self.rng.below(4) as i32;
                let start = self.rng.below(self.chatter.len() as u64) as usize;
                (0..len)
                    .map(|i| {
                        let s = self.chatter[(start + i) % self.chatter.len()];
                        (i32::from(s) * gain / 4) as i16
                    })
                    .collect()
            }
        };
    }

    /// Fill `out` with the next samples; false at the end of the day.
    fn fill(&mut self, out: &mut Vec<i16>, n: usize) -> bool {
        out.clear();
        while out.len() < n && self.pos < 24 * HOUR {
            if self.at == self.piece.len() {
                self.next_piece();
            }
            let take = (n - out.len())
                .min(self.piece.len() - self.at)
                .min((24 * HOUR - self.pos) as usize);
            out.extend_from_slice(&self.piece[self.at..self.at + take]);
            self.at += take;
            self.pos += take as u64;
        }
        !out.is_empty()
    }
}

fn resident_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

struct Run {
    events: Vec<(String, u64)>,
    dispatches: Vec<String>,
    answers: Vec<u64>,
    pushed: u64,
    rss_after_hour: u64,
    rss_end: u64,
}

fn event_time(e: &FlowEvent) -> u64 {
    match e {
        FlowEvent::Wake { at, .. } | FlowEvent::Intent { at, .. } => *at,
        FlowEvent::NameSegment { end, .. } => *end,
        FlowEvent::Answer { start, .. } => *start,
        FlowEvent::Gate { at, .. } | FlowEvent::Refused { at, .. } => *at,
        _ => 0,
    }
}

fn run(random_chunks: bool) -> Run {
    let mut dev = device("m");
    let mut day = Day::new();
    let mut rng = Rng(0xc4a2_0000_0000_0017);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    let mut out = Run {
        events: Vec::new(),
        dispatches: Vec::new(),
        answers: Vec::new(),
        pushed: 0,
        rss_after_hour: 0,
        rss_end: 0,
    };
    let mut last_time = 0;
    loop {
        let n = if random_chunks {
            1 + rng.below(8_000) as usize
        } else {
            1_600
        };
        if !day.fill(&mut buf, n) {
            break;
        }
        events.clear();
        let confirmed = dev.push(&buf, &mut events).unwrap();
        out.pushed += buf.len() as u64;
        for e in &events {
            let t = event_time(e);
            assert!(t <= out.pushed, "event after the samples pushed: {e:?}");
            // Decisions (gate events) are stamped in order.
            if let FlowEvent::Gate { at, .. } = e {
                assert!(*at >= last_time, "time went backwards: {e:?}");
                last_time = *at;
            }
            // The detector's and the segmenter's events carry sample times
            // that must not depend on chunking; the gate's decisions are
            // stamped at the end of the chunk in which they were made, so
            // only their kind is compared.
            // The answer is listened for from when the read-back was
            // reported finished, and `SimulatedDevice` reports it at the end
            // of the chunk in which the prompt's time ran out: its start
            // is compared separately, within one chunk.
            let (kind, t) = match e {
                FlowEvent::Gate { event, .. } => (format!("{event:?}"), 0),
                FlowEvent::Answer { start, .. } => {
                    out.answers.push(*start);
                    (format!("{e:?}"), 0)
                }
                _ => (format!("{e:?}"), t),
            };
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_owned();
            out.events.push((kind, t));
        }
        if let Some(m) = confirmed {
            out.dispatches.push(m.recipient_name().to_owned());
        }
        if out.rss_after_hour == 0 && out.pushed >= HOUR {
            out.rss_after_hour = resident_kb();
        }
    }
    out.rss_end = resident_kb();
    assert_eq!(dev.flow().now(), out.pushed);
    out
}

#[test]
#[ignore = "24 h of audio, twice: about 5 minutes in release"]
fn a_day_of_audio() {
    let t = std::time::Instant::now();
    let a = run(true);
    let b = run(false);
    assert_eq!(a.pushed, 24 * HOUR);
    assert_eq!(b.pushed, 24 * HOUR);
    if let Some(i) =
        (0..a.events.len().max(b.events.len())).find(|&i| a.events.get(i) != b.events.get(i))
    {
        let lo = i.saturating_sub(6);
        panic!(
            "events depend on chunking from event {i} on:\nrandom chunks: {:?}\nfixed chunks:  {:?}",
            &a.events[lo..(i + 6).min(a.events.len())],
            &b.events[lo..(i + 6).min(b.events.len())]
        );
    }
    assert_eq!(a.dispatches, b.dispatches);
    assert_eq!(a.answers.len(), b.answers.len());
    for (x, y) in a.answers.iter().zip(&b.answers) {
        assert!(x.abs_diff(*y) <= 8_000, "answer at {x} and {y}");
        assert_eq!(x % 160, 0);
    }
    let requests = (24 * HOUR).div_ceil(REQUEST_EVERY) as usize;
    assert_eq!(
        a.dispatches.len(),
        requests,
        "{:?}",
        &a.dispatches[..a.dispatches.len().min(5)]
    );
    assert!(a.dispatches.iter().all(|to| to == "Alice"));
    let growth = a.rss_end.saturating_sub(a.rss_after_hour);
    eprintln!(
        "soak: {} events, {} dispatches; resident {} kB after 1 h, {} kB after 24 h (random chunks), {} / {} kB (fixed); {:.0} s",
        a.events.len(),
        a.dispatches.len(),
        a.rss_after_hour,
        a.rss_end,
        b.rss_after_hour,
        b.rss_end,
        t.elapsed().as_secs_f64()
    );
    assert!(growth < 8_192, "resident memory grew by {growth} kB");
}
