//! Opt-in contact book and spoken-name matching.
//!
//! A contact exists only because the user enrolled it explicitly with
//! [`ContactBook::add`] (one to five recordings of the name, as feature
//! sequences). There is deliberately no bulk import API.
//!
//! # Name matching
//!
//! [`ContactBook::match_spoken`] compares the features of a spoken name with
//! every enrollment of every contact (blocked contacts included). A name in
//! a request is cut out of running speech ("…message to Priya I am running
//! late"): the cut may begin with the tail of "to" and run on into the
//! message when there is no pause after the name, while the enrollments are
//! the name said on its own. So the enrollment is aligned with the best
//! matching *part* of the spoken segment (subsequence dynamic time warping,
//! open at both ends of the spoken segment, closed at both ends of the
//! enrollment):
//!
//! 1. **Normalisation.** Each sequence gets cepstral mean normalisation (the
//!    per-sequence mean of every feature dimension is subtracted) and is then
//!    scaled by one gain so that its overall RMS value is 1 (a constant
//!    sequence becomes all zeros). This removes recording level and a fixed
//!    microphone colouring, and makes the score scale independent of the
//!    feature units.
//! 2. **Frame distance.** Euclidean distance between two normalised frames
//!    divided by `sqrt(dim)` (an RMS difference per dimension). Each
//!    enrollment frame's distances to all spoken frames are then
//!    standardised (z-scores over the spoken segment), shifted by 3 and
//!    floored at 0: what counts is how much closer than usual a spoken frame
//!    is, so an enrollment frame that is far from everything (a breath, the
//!    edge of the recording, a voice on a bad day) does not sink the match,
//!    and the distance scale is the same for every voice and microphone.
//!    (On the dev split of the recipient protocol it raised the share of
//!    requests whose best match is the right contact from 95 % to 97 %.)
//! 3. **Subsequence DTW.** Every frame of the enrollment is aligned, in
//!    order, with frames `j0..=j1` of the spoken segment, where `j0` and `j1`
//!    are free. The local steps are Sakoe and Chiba's symmetric slope-limited
//!    pattern (P = 1): one frame of each (weight 2), or one frame of one
//!    sequence against two of the other (weight 3), so the matched part of
//!    the spoken segment is between half and twice as long as the
//!    enrollment (a tempo difference of up to 2x either way) and every path
//!    weighs `n + (j1 - j0 + 1)`. The distance is the accumulated cost
//!    divided by that weight, minimised over the end `j1`: a mean frame
//!    distance. A spoken segment of fewer than `n / 2 + 1` frames cannot
//!    match an enrollment of `n` frames (infinite distance).
//! 4. **Contact distance** = minimum over the contact's enrollments.
//! 5. **Score** = `exp(-distance / scale)`, a strictly decreasing map of the
//!    distance into `(0, 1]` (an infinite distance scores `0`).
//!
//! The work is `O(n * m * dim)` per enrollment for `n` enrollment and `m`
//! spoken frames, in scratch buffers reused across enrollments.
//!
//! ## Where it fails
//! The match looks for the enrolled name anywhere in the spoken segment, so
//! an unenrolled name that *begins* with an enrolled one ("Jonathan" when
//! only "Jon" is enrolled) can match the enrolled one when no pause follows
//! it. The read-back then names the enrolled contact and only a "yes" sends.
//! Matching compares sounds of one voice: a request spoken by another voice
//! than the one that enrolled the names (a housemate) matches far worse.
//! The protocol and its numbers are in the README ("How names are matched").

use std::fmt;

/// Fewest enrollment recordings a contact may have.
pub const MIN_ENROLLMENTS: usize = 1;
/// Most enrollment recordings a contact may have.
pub const MAX_ENROLLMENTS: usize = 5;
/// Longest display name, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 64;
/// Most contacts a book holds: a person enrolls recipients one by one, and
/// matching a spoken name costs time in proportion to the book (about
/// 0.15 ms per contact with three enrollments).
pub const MAX_CONTACTS: usize = 256;

/// An owned sequence of feature frames (for example MFCC vectors), stored
/// row-major: frame `i` is `data[i * dim .. (i + 1) * dim]`.
///
/// Always non-empty, with a non-zero dimension and only finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSeq {
    dim: usize,
    data: Vec<f32>,
}

impl FeatureSeq {
    /// Builds a sequence of `data.len() / dim` frames of `dim` values each.
    ///
    /// # Errors
    /// [`ContactError::ZeroDimension`] if `dim == 0`,
    /// [`ContactError::EmptySequence`] if `data` is empty,
    /// [`ContactError::RaggedSequence`] if `data.len()` is not a multiple of
    /// `dim`, [`ContactError::NonFiniteFeature`] if any value is NaN or
    /// infinite.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self, ContactError> {
        if dim == 0 {
            return Err(ContactError::ZeroDimension);
        }
        if data.is_empty() {
            return Err(ContactError::EmptySequence);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(ContactError::RaggedSequence {
                dim,
                len: data.len(),
            });
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(ContactError::NonFiniteFeature);
        }
        Ok(Self { dim, data })
    }

    /// Number of values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of frames (always at least 1).
    pub fn frames(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Frame `i`, or `None` if out of range.
    pub fn frame(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
}

/// Identifier of an enrolled contact. Identifiers are never reused within a
/// book, so an id that was removed can never come to mean someone else.
/// The first id handed out is 1; `ContactId(0)` is never enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub u32);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Parameters of spoken-name matching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    /// Distance scale of the score mapping `exp(-d / scale)`. Default `3.0`,
    /// chosen with the gate's `contact_min_score` and `contact_min_margin`
    /// (see [`crate::gate::GateConfig::contact_min_score`] for how). Must be
    /// finite and > 0.
    pub scale: f32,
    /// Most frames accepted in an enrollment or a spoken name; bounds the
    /// cost of a match (`O(enrollment frames x spoken frames)`). Default
    /// `1000` (10 s at a 10 ms hop). Must be > 0.
    pub max_frames: usize,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            scale: 3.0,
            max_frames: 1000,
        }
    }
}

impl MatchConfig {
    /// Checks every field's documented range.
    ///
    /// # Errors
    /// [`ContactError::InvalidMatchConfig`] naming the offending field.
    pub fn validate(&self) -> Result<(), ContactError> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(ContactError::InvalidMatchConfig("scale"));
        }
        if self.max_frames == 0 {
            return Err(ContactError::InvalidMatchConfig("max_frames"));
        }
        Ok(())
    }
}

/// Result of [`ContactBook::match_spoken`].
#[derive(Debug, Clone, PartialEq)]
pub struct NameMatch {
    /// Closest contact (blocked or not). Ties go to the lower id.
    pub best: ContactId,
    /// Its score in `[0, 1]`.
    pub score: f32,
    /// Second closest contact and its score, if the book has two or more.
    pub runner_up: Option<(ContactId, f32)>,
    /// `score - runner_up score`, or `score` if there is no runner-up.
    pub margin: f32,
    /// Frames of the spoken sequence that the best contact's closest
    /// enrollment was aligned with (where the name was heard); empty if
    /// nothing could be aligned (score 0).
    pub spoken_frames: std::ops::Range<usize>,
}

/// Errors of the contact book and of feature sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactError {
    /// A feature dimension of zero.
    ZeroDimension,
    /// A feature sequence without frames.
    EmptySequence,
    /// Data length not a multiple of the dimension.
    RaggedSequence {
        /// Declared dimension.
        dim: usize,
        /// Number of values given.
        len: usize,
    },
    /// A NaN or infinite feature value.
    NonFiniteFeature,
    /// More frames than [`MatchConfig::max_frames`].
    SequenceTooLong {
        /// Frames given.
        frames: usize,
        /// Limit.
        max: usize,
    },
    /// Display name empty after trimming.
    EmptyName,
    /// Display name longer than [`MAX_NAME_CHARS`].
    NameTooLong {
        /// Limit in characters.
        max: usize,
    },
    /// Display name containing a control character.
    InvalidNameCharacter,
    /// A contact with this name (compared case-insensitively) exists.
    DuplicateName,
    /// Fewer than [`MIN_ENROLLMENTS`] enrollments.
    TooFewEnrollments {
        /// Minimum.
        min: usize,
        /// Given.
        found: usize,
    },
    /// More than [`MAX_ENROLLMENTS`] enrollments.
    TooManyEnrollments {
        /// Maximum.
        max: usize,
        /// Given.
        found: usize,
    },
    /// Feature dimension differs from the book's (or between enrollments).
    DimensionMismatch {
        /// Dimension in use.
        expected: usize,
        /// Dimension given.
        found: usize,
    },
    /// No contact with this id is enrolled.
    UnknownContact(ContactId),
    /// The book is empty.
    NoContacts,
    /// A [`MatchConfig`] field is out of range.
    InvalidMatchConfig(&'static str),
    /// Every `u32` id has been handed out.
    IdsExhausted,
    /// The book already holds [`MAX_CONTACTS`] contacts.
    TooManyContacts {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for ContactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroDimension => write!(f, "feature dimension must be greater than zero"),
            Self::EmptySequence => write!(f, "feature sequence has no frames"),
            Self::RaggedSequence { dim, len } => {
                write!(
                    f,
                    "{len} feature values are not a whole number of {dim}-dimensional frames"
                )
            }
            Self::NonFiniteFeature => {
                write!(f, "feature sequence contains a NaN or infinite value")
            }
            Self::SequenceTooLong { frames, max } => {
                write!(
                    f,
                    "feature sequence has {frames} frames, more than the limit of {max}"
                )
            }
            Self::EmptyName => write!(f, "contact name is empty"),
            Self::NameTooLong { max } => write!(f, "contact name is longer than {max} characters"),
            Self::InvalidNameCharacter => write!(f, "contact name contains a control character"),
            Self::DuplicateName => write!(f, "a contact with this name already exists"),
            Self::TooFewEnrollments { min, found } => {
                write!(f, "{found} enrollments given, at least {min} required")
            }
            Self::TooManyEnrollments { max, found } => {
                write!(f, "{found} enrollments given, at most {max} allowed")
            }
            Self::DimensionMismatch { expected, found } => {
                write!(f, "feature dimension {found} does not match {expected}")
            }
            Self::UnknownContact(id) => write!(f, "no enrolled contact {id}"),
            Self::NoContacts => write!(f, "no contacts are enrolled"),
            Self::InvalidMatchConfig(field) => write!(f, "invalid match configuration: {field}"),
            Self::IdsExhausted => write!(f, "contact ids exhausted"),
            Self::TooManyContacts { max } => {
                write!(f, "the contact book is full ({max} contacts)")
            }
        }
    }
}

impl std::error::Error for ContactError {}

/// A feature sequence after mean and gain normalisation.
#[derive(Clone)]
struct NormSeq {
    dim: usize,
    frames: usize,
    data: Vec<f32>,
}

impl NormSeq {
    fn from_seq(seq: &FeatureSeq) -> Self {
        let dim = seq.dim;
        let frames = seq.frames();
        let mut mean = vec![0f64; dim];
        for frame in seq.data.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(frame) {
                *m += f64::from(v);
            }
        }
        for m in &mut mean {
            *m /= frames as f64;
        }
        let centred: Vec<f64> = seq
            .data
            .chunks_exact(dim)
            .flat_map(|frame| frame.iter().zip(&mean).map(|(&v, &m)| f64::from(v) - m))
            .collect();
        let rms = (centred.iter().map(|c| c * c).sum::<f64>() / centred.len() as f64).sqrt();
        let gain = if rms.is_finite() && rms > 1e-9 {
            1.0 / rms
        } else {
            0.0
        };
        let data = centred.iter().map(|&c| (c * gain) as f32).collect();
        Self { dim, frames, data }
    }

    fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// A normalised spoken segment with its frames also stored
/// dimension-major, so that eight spoken frames are compared with one
/// enrollment frame in one pass over the dimensions. Built once per match.
struct Spoken {
    seq: NormSeq,
    /// Value `k` of frame `j` at `k * frames + j`.
    by_dim: Vec<f32>,
}

impl Spoken {
    fn new(spoken: &FeatureSeq) -> Self {
        let seq = NormSeq::from_seq(spoken);
        let (dim, m) = (seq.dim, seq.frames);
        let mut by_dim = vec![0.0; dim * m];
        for j in 0..m {
            for (k, &v) in seq.frame(j).iter().enumerate() {
                by_dim[k * m + j] = v;
            }
        }
        Self { seq, by_dim }
    }
}

/// Reusable buffers of [`subsequence_distance`].
#[derive(Default)]
struct Scratch {
    /// Frame distances, enrollment-major (`n x m`).
    dist: Vec<f32>,
    /// Accumulated costs, three rows (`i`, `i - 1`, `i - 2`, rotating).
    acc: [Vec<f32>; 3],
    /// First spoken frame of the best path into each cell, same rows.
    start: [Vec<u32>; 3],
}

/// Distance of an enrollment to the best part of a spoken segment, and that
/// part (spoken frames `start..end`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Aligned {
    distance: f64,
    start: usize,
    end: usize,
}

impl Aligned {
    const NONE: Aligned = Aligned {
        distance: f64::INFINITY,
        start: 0,
        end: 0,
    };
}

/// Shift of the row-standardised frame distances (module docs, step 3):
/// a frame pair at the mean distance of its row costs 3, one 3 standard
/// deviations closer than the mean costs 0. Chosen on the dev split of the
/// recipient protocol (2 and 4 were worse).
const ROW_OFFSET: f32 = 3.0;

/// Squared Euclidean distance, in four independent lanes so that the
/// compiler can keep them in one SIMD register.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            let d = x[k] - y[k];
            lanes[k] += d * d;
        }
    }
    let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Subsequence DTW distance of the whole enrollment `e` against the best
/// part of the spoken segment `q` (see the module docs): the minimum over
/// paths of accumulated cost / path weight, or infinity if `q` is too short.
fn subsequence_distance(e: &NormSeq, spoken: &Spoken, scratch: &mut Scratch) -> Aligned {
    let q = &spoken.seq;
    let (n, m, dim) = (e.frames, q.frames, e.dim);
    // The steepest path (one spoken frame per two enrollment frames) needs
    // n / 2 + 1 spoken frames.
    if n == 0 || m < n / 2 + 1 {
        return Aligned::NONE;
    }
    let scale = 1.0 / dim as f32;
    scratch.dist.clear();
    scratch.dist.reserve(n * m);
    let qt = &spoken.by_dim;
    // Each enrollment frame's distances to the spoken frames, as z-scores
    // over the spoken segment, shifted by ROW_OFFSET and floored at 0.
    for i in 0..n {
        let fe = e.frame(i);
        let start = scratch.dist.len();
        let mut j = 0;
        while j + 8 <= m {
            let mut lanes = [0f32; 8];
            for (k, &ev) in fe.iter().enumerate() {
                let col = &qt[k * m + j..k * m + j + 8];
                for (l, &x) in lanes.iter_mut().zip(col) {
                    let d = x - ev;
                    *l += d * d;
                }
            }
            scratch
                .dist
                .extend(lanes.iter().map(|l| (l * scale).sqrt()));
            j += 8;
        }
        for j in j..m {
            scratch
                .dist
                .push((squared_distance(fe, q.frame(j)) * scale).sqrt());
        }
        let row = &mut scratch.dist[start..];
        let (mut sum, mut sum_sq) = (0f32, 0f32);
        for &d in row.iter() {
            sum += d;
            sum_sq += d * d;
        }
        let mean = sum / m as f32;
        let var = (sum_sq / m as f32 - mean * mean).max(0.0);
        let inv_sd = 1.0 / var.sqrt().max(1e-6);
        for d in row.iter_mut() {
            *d = ((*d - mean) * inv_sd + ROW_OFFSET).max(0.0);
        }
    }
    let dist = &scratch.dist;
    // Rows i (`a0`), i - 1 (`a1`) and i - 2 (`a2`) of the accumulated cost,
    // with the first spoken frame of the best path into each cell.
    let [a0, a1, a2] = &mut scratch.acc;
    let [s0, s1, s2] = &mut scratch.start;
    for (a, st) in [
        (&mut *a0, &mut *s0),
        (&mut *a1, &mut *s1),
        (&mut *a2, &mut *s2),
    ] {
        a.clear();
        a.resize(m, f32::INFINITY);
        st.clear();
        st.resize(m, 0);
    }
    for j in 0..m {
        a1[j] = 2.0 * dist[j];
        s1[j] = j as u32;
    }
    for i in 1..n {
        let here = &dist[i * m..(i + 1) * m];
        let above = &dist[(i - 1) * m..i * m];
        // Column 0 has no predecessor; column 1 no (1, 2) step.
        a0[0] = f32::INFINITY;
        s0[0] = 0;
        if m > 1 {
            let h = here[1];
            let (c1, c2) = (a1[0] + 2.0 * h, a2[0] + 2.0 * above[1] + h);
            (a0[1], s0[1]) = if c2 < c1 { (c2, s2[0]) } else { (c1, s1[0]) };
        }
        // Columns 2.. have all three steps; exact-length slices let the
        // compiler drop the bounds checks.
        if m > 2 {
            let k = m - 2;
            let (h, h_prev, up) = (&here[2..], &here[1..m - 1], &above[2..]);
            let (d1, d2, s1d, s2d) = (&a1[1..m - 1], &a2[1..m - 1], &s1[1..m - 1], &s2[1..m - 1]);
            let (t1, t1s) = (&a1[..k], &s1[..k]);
            let (out, out_s) = (&mut a0[2..], &mut s0[2..]);
            for x in 0..k {
                // One frame of each; two enrollment frames against one
                // spoken frame; one enrollment frame against two.
                let c1 = d1[x] + 2.0 * h[x];
                let c2 = d2[x] + 2.0 * up[x] + h[x];
                let c3 = t1[x] + 2.0 * h_prev[x] + h[x];
                let (mut best, mut from) = (c1, s1d[x]);
                if c2 < best {
                    best = c2;
                    from = s2d[x];
                }
                if c3 < best {
                    best = c3;
                    from = t1s[x];
                }
                out[x] = best;
                out_s[x] = from;
            }
        }
        // Row i becomes i - 1, row i - 1 becomes i - 2.
        std::mem::swap(a2, a1);
        std::mem::swap(a1, a0);
        std::mem::swap(s2, s1);
        std::mem::swap(s1, s0);
    }
    // The last row is now in `a1`.
    let mut best = Aligned::NONE;
    for j in 0..m {
        let acc = a1[j];
        if acc.is_finite() {
            let start = s1[j] as usize;
            let distance = f64::from(acc) / (n + j + 1 - start) as f64;
            if distance < best.distance {
                best = Aligned {
                    distance,
                    start,
                    end: j + 1,
                };
            }
        }
    }
    best
}

fn score_from_distance(d: f64, scale: f32) -> f32 {
    if !d.is_finite() {
        return 0.0;
    }
    let s = (-d / f64::from(scale)).exp() as f32;
    s.clamp(0.0, 1.0)
}

struct Contact {
    id: ContactId,
    name: String,
    key: String,
    enrollments: Vec<NormSeq>,
    blocked: bool,
    /// Bumped by every change of `blocked`.
    revision: u64,
}

/// The user's opt-in contact book. Contacts are only ever added one at a
/// time with explicit enrollment recordings.
pub struct ContactBook {
    contacts: Vec<Contact>,
    next_id: u32,
    dim: Option<usize>,
    config: MatchConfig,
}

impl fmt::Debug for ContactBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactBook")
            .field("contacts", &self.contacts.len())
            .field("dim", &self.dim)
            .field("config", &self.config)
            .finish()
    }
}

impl Default for ContactBook {
    fn default() -> Self {
        Self::new()
    }
}

impl ContactBook {
    /// An empty book with the default [`MatchConfig`].
    pub fn new() -> Self {
        Self {
            contacts: Vec::new(),
            next_id: 1,
            dim: None,
            config: MatchConfig::default(),
        }
    }

    /// An empty book with a custom matching configuration.
    ///
    /// # Errors
    /// [`ContactError::InvalidMatchConfig`] if `config` fails validation.
    pub fn with_match_config(config: MatchConfig) -> Result<Self, ContactError> {
        config.validate()?;
        let mut book = Self::new();
        book.config = config;
        Ok(book)
    }

    /// The matching configuration.
    pub fn match_config(&self) -> &MatchConfig {
        &self.config
    }

    /// Feature dimension shared by every enrollment, `None` while empty.
    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// Enrolls one contact with 1..=5 recordings of its name; a book holds
    /// at most [`MAX_CONTACTS`].
    ///
    /// The name is trimmed; it must be non-empty, at most [`MAX_NAME_CHARS`]
    /// characters, free of control characters and not equal
    /// (case-insensitively) to an existing contact's name. All enrollments
    /// must share the book's feature dimension.
    ///
    /// # Errors
    /// The matching [`ContactError`] variant; the book is unchanged.
    pub fn add(
        &mut self,
        display_name: &str,
        enrollments: Vec<FeatureSeq>,
    ) -> Result<ContactId, ContactError> {
        if self.contacts.len() >= MAX_CONTACTS {
            return Err(ContactError::TooManyContacts { max: MAX_CONTACTS });
        }
        let name = display_name.trim();
        if name.is_empty() {
            return Err(ContactError::EmptyName);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ContactError::NameTooLong {
                max: MAX_NAME_CHARS,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(ContactError::InvalidNameCharacter);
        }
        let key = name.to_lowercase();
        if self.contacts.iter().any(|c| c.key == key) {
            return Err(ContactError::DuplicateName);
        }
        if enrollments.len() < MIN_ENROLLMENTS {
            return Err(ContactError::TooFewEnrollments {
                min: MIN_ENROLLMENTS,
                found: enrollments.len(),
            });
        }
        if enrollments.len() > MAX_ENROLLMENTS {
            return Err(ContactError::TooManyEnrollments {
                max: MAX_ENROLLMENTS,
                found: enrollments.len(),
            });
        }
        let expected = self.dim.unwrap_or(enrollments[0].dim);
        for e in &enrollments {
            if e.dim != expected {
                return Err(ContactError::DimensionMismatch {
                    expected,
                    found: e.dim,
                });
            }
            if e.frames() > self.config.max_frames {
                return Err(ContactError::SequenceTooLong {
                    frames: e.frames(),
                    max: self.config.max_frames,
                });
            }
        }
        let id = ContactId(self.next_id);
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or(ContactError::IdsExhausted)?;
        self.dim = Some(expected);
        self.contacts.push(Contact {
            id,
            name: name.to_owned(),
            key,
            enrollments: enrollments.iter().map(NormSeq::from_seq).collect(),
            blocked: false,
            revision: 0,
        });
        Ok(id)
    }

    fn position(&self, id: ContactId) -> Result<usize, ContactError> {
        self.contacts
            .iter()
            .position(|c| c.id == id)
            .ok_or(ContactError::UnknownContact(id))
    }

    /// Removes a contact and its enrollments. Its id is never reused.
    ///
    /// # Errors
    /// [`ContactError::UnknownContact`] if not enrolled.
    pub fn remove(&mut self, id: ContactId) -> Result<(), ContactError> {
        let pos = self.position(id)?;
        self.contacts.remove(pos);
        if self.contacts.is_empty() {
            self.dim = None;
        }
        Ok(())
    }

    /// Blocks a contact: it still takes part in matching (so a name that
    /// sounds like it is refused rather than rerouted) but no message can be
    /// confirmed to it.
    ///
    /// # Errors
    /// [`ContactError::UnknownContact`] if not enrolled.
    pub fn block(&mut self, id: ContactId) -> Result<(), ContactError> {
        let pos = self.position(id)?;
        let c = &mut self.contacts[pos];
        if !c.blocked {
            c.blocked = true;
            c.revision += 1;
        }
        Ok(())
    }

    /// Lifts a block.
    ///
    /// # Errors
    /// [`ContactError::UnknownContact`] if not enrolled.
    pub fn unblock(&mut self, id: ContactId) -> Result<(), ContactError> {
        let pos = self.position(id)?;
        let c = &mut self.contacts[pos];
        if c.blocked {
            c.blocked = false;
            c.revision += 1;
        }
        Ok(())
    }

    /// How many times the contact's blocked flag has changed (a block of a
    /// blocked or an unblock of an unblocked contact changes nothing), if
    /// enrolled. The gate compares it with the value at the time of the
    /// match, so a recipient that was blocked at any moment during a
    /// request (even if unblocked again before the next input) cancels it.
    pub fn revision(&self, id: ContactId) -> Option<u64> {
        self.contacts
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.revision)
    }

    /// Whether `id` is currently enrolled.
    pub fn is_enrolled(&self, id: ContactId) -> bool {
        self.position(id).is_ok()
    }

    /// Whether `id` is enrolled and blocked (`false` for unknown ids; check
    /// [`Self::is_enrolled`] as well before trusting an id).
    pub fn is_blocked(&self, id: ContactId) -> bool {
        self.contacts.iter().any(|c| c.id == id && c.blocked)
    }

    /// The contact's display name, if enrolled.
    pub fn display_name(&self, id: ContactId) -> Option<&str> {
        self.contacts
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.as_str())
    }

    /// Number of enrolled contacts.
    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    /// Whether no contact is enrolled.
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// `(id, display name, blocked)` for every contact, in enrollment order.
    pub fn iter(&self) -> impl Iterator<Item = (ContactId, &str, bool)> + '_ {
        self.contacts
            .iter()
            .map(|c| (c.id, c.name.as_str(), c.blocked))
    }

    /// Checks that `spoken` could be matched against this book (dimension
    /// and length); an empty book accepts any sequence here.
    ///
    /// # Errors
    /// [`ContactError::DimensionMismatch`] or [`ContactError::SequenceTooLong`].
    pub fn check_query(&self, spoken: &FeatureSeq) -> Result<(), ContactError> {
        let expected = self.dim.unwrap_or(spoken.dim);
        if spoken.dim != expected {
            return Err(ContactError::DimensionMismatch {
                expected,
                found: spoken.dim,
            });
        }
        if spoken.frames() > self.config.max_frames {
            return Err(ContactError::SequenceTooLong {
                frames: spoken.frames(),
                max: self.config.max_frames,
            });
        }
        Ok(())
    }

    /// Subsequence DTW alignment of `spoken` with each contact (its closest
    /// enrollment), in book order.
    fn distances(&self, spoken: &FeatureSeq) -> Vec<(ContactId, Aligned)> {
        let query = Spoken::new(spoken);
        let mut scratch = Scratch::default();
        self.contacts
            .iter()
            .map(|c| {
                let best = c
                    .enrollments
                    .iter()
                    .map(|e| subsequence_distance(e, &query, &mut scratch))
                    .fold(
                        Aligned::NONE,
                        |a, b| if b.distance < a.distance { b } else { a },
                    );
                (c.id, best)
            })
            .collect()
    }

    /// Matches a spoken name against every contact, blocked ones included
    /// (see the module docs for the method).
    ///
    /// # Errors
    /// [`ContactError::NoContacts`] for an empty book, otherwise the errors
    /// of [`Self::check_query`].
    pub fn match_spoken(&self, spoken: &FeatureSeq) -> Result<NameMatch, ContactError> {
        if self.contacts.is_empty() {
            return Err(ContactError::NoContacts);
        }
        self.check_query(spoken)?;
        let mut scored: Vec<(ContactId, f32, Aligned)> = self
            .distances(spoken)
            .into_iter()
            .map(|(id, a)| (id, score_from_distance(a.distance, self.config.scale), a))
            .collect();
        // Highest score first; ties keep book order (lower id first).
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (best, score, aligned) = scored[0];
        let runner_up = scored.get(1).map(|&(id, s, _)| (id, s));
        let margin = match runner_up {
            Some((_, s)) => (score - s).max(0.0),
            None => score,
        };
        Ok(NameMatch {
            best,
            score,
            runner_up,
            margin,
            spoken_frames: if aligned.distance.is_finite() {
                aligned.start..aligned.end
            } else {
                0..0
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(frames: usize, dim: usize, f: impl Fn(usize, usize) -> f32) -> FeatureSeq {
        let mut data = Vec::with_capacity(frames * dim);
        for t in 0..frames {
            for d in 0..dim {
                data.push(f(t, d));
            }
        }
        FeatureSeq::new(dim, data).unwrap()
    }

    fn wave(frames: usize, cycles: f32) -> FeatureSeq {
        seq(frames, 4, |t, d| {
            let x = t as f32 / frames as f32;
            (std::f32::consts::TAU * cycles * x + d as f32 * 0.9).sin() * (1.0 + d as f32)
        })
    }

    #[test]
    fn a_book_is_bounded() {
        let mut book = ContactBook::new();
        for i in 0..MAX_CONTACTS {
            book.add(&format!("contact {i}"), vec![wave(20, 1.0)])
                .unwrap();
        }
        assert_eq!(
            book.add("one too many", vec![wave(20, 1.0)]),
            Err(ContactError::TooManyContacts { max: MAX_CONTACTS })
        );
        assert_eq!(book.len(), MAX_CONTACTS);
    }

    #[test]
    fn feature_seq_validation() {
        assert_eq!(
            FeatureSeq::new(0, vec![1.0]),
            Err(ContactError::ZeroDimension)
        );
        assert_eq!(FeatureSeq::new(2, vec![]), Err(ContactError::EmptySequence));
        assert_eq!(
            FeatureSeq::new(2, vec![1.0, 2.0, 3.0]),
            Err(ContactError::RaggedSequence { dim: 2, len: 3 })
        );
        assert_eq!(
            FeatureSeq::new(1, vec![1.0, f32::NAN]),
            Err(ContactError::NonFiniteFeature)
        );
        assert_eq!(
            FeatureSeq::new(1, vec![f32::INFINITY]),
            Err(ContactError::NonFiniteFeature)
        );
        let s = FeatureSeq::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.frames(), 2);
        assert_eq!(s.frame(1), Some(&[3.0, 4.0][..]));
        assert_eq!(s.frame(2), None);
    }

    fn dist(e: &FeatureSeq, q: &FeatureSeq) -> f64 {
        let mut s = Scratch::default();
        subsequence_distance(&NormSeq::from_seq(e), &Spoken::new(q), &mut s).distance
    }

    /// `frames` frames of another pattern ("other speech"): the same
    /// per-dimension scale as [`wave`], but no time-scaled copy of it.
    fn other(frames: usize, seed: u32) -> Vec<f32> {
        seq(frames, 4, |t, d| {
            let x = t as f32 * (0.41 + 0.13 * seed as f32) + d as f32 * 2.1;
            (x.sin() + 0.6 * (2.7 * x).cos()) * (1.0 + d as f32) * 0.8
        })
        .as_slice()
        .to_vec()
    }

    fn join(parts: &[&[f32]]) -> FeatureSeq {
        FeatureSeq::new(4, parts.concat()).unwrap()
    }

    #[test]
    fn identical_is_closest_and_offset_invariant() {
        let a = wave(30, 2.0);
        let d_self = dist(&a, &a);
        // A constant offset and a gain change vanish under normalisation.
        let shifted =
            FeatureSeq::new(4, a.as_slice().iter().map(|v| v * 3.0 + 5.0).collect()).unwrap();
        assert!((dist(&a, &shifted) - d_self).abs() < 1e-4);
        let b = FeatureSeq::new(4, other(30, 3)).unwrap();
        let d_other = dist(&a, &b);
        assert!(d_other > 1.5 * d_self, "self {d_self} other {d_other}");
    }

    #[test]
    fn enrollment_is_found_inside_running_speech() {
        // "to" + name + message with no pause: the enrolled name is found
        // wherever it sits, far closer than another name in the same place.
        let name = wave(40, 2.0);
        let before = other(12, 1);
        let after = other(60, 2);
        let spoken = join(&[&before, name.as_slice(), &after]);
        let wrong = join(&[&before, &other(40, 5), &after]);
        let d_right = dist(&name, &spoken);
        let d_wrong = dist(&name, &wrong);
        assert!(
            d_wrong > 2.0 * d_right + 0.5,
            "right {d_right} wrong {d_wrong}"
        );
        // The match says where the name was heard: frames 12..52.
        let mut book = ContactBook::new();
        book.add("Priya", vec![name]).unwrap();
        let m = book.match_spoken(&spoken).unwrap();
        assert!(
            m.spoken_frames.start.abs_diff(12) <= 2 && m.spoken_frames.end.abs_diff(52) <= 2,
            "{:?}",
            m.spoken_frames
        );
    }

    #[test]
    fn tempo_within_twice_is_matched_and_beyond_is_not() {
        let name = wave(40, 2.0);
        let slow = wave(70, 2.0); // 1.75x longer
        let fast = wave(24, 2.0); // 0.6x
        let d_other = dist(&name, &FeatureSeq::new(4, other(40, 4)).unwrap());
        for (what, d) in [("slow", dist(&name, &slow)), ("fast", dist(&name, &fast))] {
            assert!(d < 0.6 * d_other, "{what} {d} other {d_other}");
        }
        // A spoken segment of fewer than 40 / 2 + 1 frames cannot hold it.
        assert_eq!(dist(&name, &wave(20, 2.0)), f64::INFINITY);
        assert!(dist(&name, &wave(21, 2.0)).is_finite());
    }

    #[test]
    fn single_frame_sequences() {
        let one = wave(1, 1.0);
        let two = wave(2, 1.0);
        assert!(dist(&one, &one).is_finite());
        assert!(dist(&one, &two).is_finite());
        // Two enrollment frames need two spoken frames, three need two.
        assert_eq!(dist(&two, &one), f64::INFINITY);
        assert!(dist(&wave(3, 1.0), &two).is_finite());
    }

    #[test]
    fn score_mapping_is_monotone() {
        let mut last = 1.0f32;
        for i in 0..50 {
            let s = score_from_distance(f64::from(i) * 0.05, 0.3);
            assert!((0.0..=1.0).contains(&s));
            assert!(s <= last);
            last = s;
        }
        assert_eq!(score_from_distance(0.0, 0.3), 1.0);
    }

    #[test]
    fn add_validation() {
        let mut book = ContactBook::new();
        assert_eq!(
            book.add("  ", vec![wave(10, 1.0)]),
            Err(ContactError::EmptyName)
        );
        assert_eq!(
            book.add("A", vec![]),
            Err(ContactError::TooFewEnrollments { min: 1, found: 0 })
        );
        assert_eq!(
            book.add("A", vec![wave(10, 1.0); 6]),
            Err(ContactError::TooManyEnrollments { max: 5, found: 6 })
        );
        assert_eq!(
            book.add("A\u{7}", vec![wave(10, 1.0)]),
            Err(ContactError::InvalidNameCharacter)
        );
        assert_eq!(
            book.add(&"x".repeat(65), vec![wave(10, 1.0)]),
            Err(ContactError::NameTooLong { max: 64 })
        );
        let bad_dim = FeatureSeq::new(3, vec![0.0; 9]).unwrap();
        assert_eq!(
            book.add("A", vec![wave(10, 1.0), bad_dim.clone()]),
            Err(ContactError::DimensionMismatch {
                expected: 4,
                found: 3
            })
        );
        assert!(book.is_empty());
        let a = book.add(" Alice ", vec![wave(10, 1.0)]).unwrap();
        assert_eq!(a, ContactId(1));
        assert_eq!(book.display_name(a), Some("Alice"));
        assert_eq!(
            book.add("ALICE", vec![wave(10, 1.0)]),
            Err(ContactError::DuplicateName)
        );
        assert_eq!(
            book.add("Bob", vec![bad_dim]),
            Err(ContactError::DimensionMismatch {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn ids_are_never_reused_and_flags_work() {
        let mut book = ContactBook::new();
        let a = book.add("Alice", vec![wave(10, 1.0)]).unwrap();
        book.remove(a).unwrap();
        assert!(!book.is_enrolled(a));
        assert_eq!(book.remove(a), Err(ContactError::UnknownContact(a)));
        assert_eq!(book.block(a), Err(ContactError::UnknownContact(a)));
        let a2 = book.add("Alice", vec![wave(10, 1.0)]).unwrap();
        assert_ne!(a, a2);
        book.block(a2).unwrap();
        assert!(book.is_blocked(a2));
        assert!(!book.is_blocked(a));
        assert_eq!(book.iter().collect::<Vec<_>>(), vec![(a2, "Alice", true)]);
        book.unblock(a2).unwrap();
        assert!(!book.is_blocked(a2));
        // The revision counts changes of the flag, not calls.
        assert_eq!(book.revision(a2), Some(2));
        book.unblock(a2).unwrap();
        assert_eq!(book.revision(a2), Some(2));
        book.block(a2).unwrap();
        book.block(a2).unwrap();
        assert_eq!(book.revision(a2), Some(3));
        assert_eq!(book.revision(a), None);
    }

    #[test]
    fn match_spoken_basics() {
        let mut book = ContactBook::new();
        assert_eq!(
            book.match_spoken(&wave(20, 1.0)),
            Err(ContactError::NoContacts)
        );
        let a = book.add("Alice", vec![wave(40, 1.0)]).unwrap();
        let only = book.match_spoken(&wave(40, 1.0)).unwrap();
        assert_eq!(only.best, a);
        assert_eq!(only.runner_up, None);
        assert_eq!(only.margin, only.score);
        let stranger = FeatureSeq::new(4, other(40, 2)).unwrap();
        assert!(only.score > book.match_spoken(&stranger).unwrap().score + 0.2);
        let b = book.add("Bob", vec![wave(40, 3.0)]).unwrap();
        let m = book.match_spoken(&wave(44, 3.0)).unwrap();
        assert_eq!(m.best, b);
        assert_eq!(m.runner_up.map(|r| r.0), Some(a));
        assert!((m.margin - (m.score - m.runner_up.unwrap().1)).abs() < 1e-6);
        let wrong_dim = FeatureSeq::new(2, vec![0.0; 10]).unwrap();
        assert_eq!(
            book.match_spoken(&wrong_dim),
            Err(ContactError::DimensionMismatch {
                expected: 4,
                found: 2
            })
        );
    }

    #[test]
    fn tie_gives_zero_margin_and_lower_id() {
        let mut book = ContactBook::new();
        let a = book.add("Ann", vec![wave(30, 2.0)]).unwrap();
        let _b = book.add("Anne", vec![wave(30, 2.0)]).unwrap();
        let m = book.match_spoken(&wave(30, 2.0)).unwrap();
        assert_eq!(m.best, a);
        assert_eq!(m.margin, 0.0);
    }
}
