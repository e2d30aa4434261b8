//! Opt-in contact book and spoken-name matching.
//!
//! A contact exists only because the user enrolled it explicitly with
//! [`ContactBook::add`] (one to five recordings of the name, as feature
//! sequences). There is deliberately no bulk import API.
//!
//! # Name matching
//!
//! [`ContactBook::match_spoken`] compares the features of a spoken name with
//! every enrollment of every contact (blocked contacts included) by dynamic
//! time warping (DTW):
//!
//! 1. **Normalisation.** Each sequence gets cepstral mean normalisation (the
//!    per-sequence mean of every feature dimension is subtracted) and is then
//!    scaled by one gain so that its overall RMS value is 1 (a constant
//!    sequence becomes all zeros). The gain step makes the score scale
//!    independent of the feature units and of the recording level.
//! 2. **Frame distance.** Euclidean distance between two normalised frames
//!    divided by `sqrt(dim)` (an RMS difference per dimension).
//! 3. **DTW.** Symmetric step weights (diagonal step 2, horizontal and
//!    vertical steps 1); the accumulated cost is divided by `n + m` (the
//!    total weight of every path), so the result is a path-length-normalised
//!    mean frame distance. A Sakoe-Chiba band around the diagonal of the
//!    `n x m` grid, of radius `ceil(band_ratio * max(n, m))` frames of the
//!    longer sequence (never less than needed to keep the band connected),
//!    limits warping; the band is symmetric, so the distance does not depend
//!    on the argument order. Sequences whose lengths differ by more than a
//!    factor `max_length_ratio` get an infinite distance. Only two rows of
//!    the cost matrix are kept.
//! 4. **Contact distance** = minimum over the contact's enrollments.
//! 5. **Score** = `exp(-distance / scale)`, a strictly decreasing map of the
//!    distance into `(0, 1]` (an infinite distance scores `0`).

use std::fmt;

/// Fewest enrollment recordings a contact may have.
pub const MIN_ENROLLMENTS: usize = 1;
/// Most enrollment recordings a contact may have.
pub const MAX_ENROLLMENTS: usize = 5;
/// Longest display name, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 64;

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
    /// Distance scale of the score mapping `exp(-d / scale)`. Default `0.5`:
    /// a mean normalised frame distance of 0.2 scores 0.67, 0.4 scores 0.45,
    /// 0.8 (another name) scores 0.20. Measured on the bundled test voices
    /// with the `wakeguard_v1` front end: the same name scores 0.63–0.95, other
    /// enrolled names 0.10–0.27. Must be finite and > 0.
    pub scale: f32,
    /// Sakoe-Chiba band radius as a fraction of the longer sequence. Default
    /// `0.2`. Must be finite and in `(0, 1]`. (The radius is never made
    /// smaller than needed to connect both corners of the grid.)
    pub band_ratio: f32,
    /// Longest / shortest frame count above which two sequences are not
    /// compared at all (score 0). Default `2.0`. Must be finite and >= 1.
    pub max_length_ratio: f32,
    /// Most frames accepted in an enrollment or a spoken name; bounds the DTW
    /// cost. Default `1000` (10 s at a 10 ms hop). Must be > 0.
    pub max_frames: usize,
    /// Fraction of the spoken segment that may be skipped at its start when
    /// it is compared with an enrollment: a name cut out of fluent speech
    /// ("…message to Alice") can begin with the tail of the previous word.
    /// Every trim in steps of 3 frames is tried and the best distance kept.
    /// Only the start is trimmed (the segment ends at a pause), and only a
    /// little, so that a longer name cannot match a shorter enrolled one
    /// ("Alexander" is not "Alex"). Default `0.25`; `0.0` compares whole
    /// segments. Must be finite and in `[0, 0.45]`.
    pub max_trim: f32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            scale: 0.5,
            band_ratio: 0.2,
            max_length_ratio: 2.0,
            max_frames: 1000,
            max_trim: 0.25,
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
        if !(self.band_ratio.is_finite() && self.band_ratio > 0.0 && self.band_ratio <= 1.0) {
            return Err(ContactError::InvalidMatchConfig("band_ratio"));
        }
        if !(self.max_trim.is_finite() && (0.0..=0.45).contains(&self.max_trim)) {
            return Err(ContactError::InvalidMatchConfig("max_trim"));
        }
        if !(self.max_length_ratio.is_finite() && self.max_length_ratio >= 1.0) {
            return Err(ContactError::InvalidMatchConfig("max_length_ratio"));
        }
        if self.max_frames == 0 {
            return Err(ContactError::InvalidMatchConfig("max_frames"));
        }
        Ok(())
    }
}

/// Result of [`ContactBook::match_spoken`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameMatch {
    /// Closest contact (blocked or not). Ties go to the lower id.
    pub best: ContactId,
    /// Its score in `[0, 1]`.
    pub score: f32,
    /// Second closest contact and its score, if the book has two or more.
    pub runner_up: Option<(ContactId, f32)>,
    /// `score - runner_up score`, or `score` if there is no runner-up.
    pub margin: f32,
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

fn frame_distance(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    (sum / a.len() as f64).sqrt()
}

/// Path-length-normalised DTW distance (see the module docs). `prev` and
/// `cur` are scratch rows reused across calls.
fn dtw_distance(
    a: &NormSeq,
    b: &NormSeq,
    cfg: &MatchConfig,
    prev: &mut Vec<f64>,
    cur: &mut Vec<f64>,
) -> f64 {
    let (n, m) = (a.frames, b.frames);
    let (short, long) = (n.min(m), n.max(m));
    if short == 0 || long as f64 > f64::from(cfg.max_length_ratio) * short as f64 {
        return f64::INFINITY;
    }
    // Sakoe-Chiba band around the diagonal of the n x m grid, symmetric in
    // the two sequences: cell (i, j) is allowed when
    // |i (m-1) - j (n-1)| <= radius * (short-1), i.e. when j lies within
    // `radius` frames of the longer sequence from the diagonal. The radius is
    // never below (slope + 1) / 2, which keeps the band connected.
    let s = (short - 1) as i64;
    let radius = if s > 0 {
        let slope = (long - 1) as f64 / s as f64;
        (f64::from(cfg.band_ratio) * long as f64)
            .ceil()
            .max(((slope + 1.0) / 2.0).ceil()) as i64
    } else {
        0
    };
    let reach = radius.saturating_mul(s);
    let (nm1, mm1) = ((n - 1) as i64, (m - 1) as i64);
    prev.clear();
    prev.resize(m, f64::INFINITY);
    cur.clear();
    cur.resize(m, f64::INFINITY);
    for i in 0..n {
        cur.fill(f64::INFINITY);
        let (lo, hi) = if nm1 == 0 {
            (0, m - 1)
        } else {
            let centre = i as i64 * mm1;
            let lo = -((reach - centre).div_euclid(nm1));
            let hi = (centre + reach).div_euclid(nm1);
            (lo.max(0) as usize, (hi.max(0) as usize).min(m - 1))
        };
        let fa = a.frame(i);
        for j in lo..=hi {
            let d = frame_distance(fa, b.frame(j));
            let acc = if i == 0 && j == 0 {
                2.0 * d
            } else {
                let diag = if i > 0 && j > 0 {
                    prev[j - 1] + 2.0 * d
                } else {
                    f64::INFINITY
                };
                let up = if i > 0 { prev[j] + d } else { f64::INFINITY };
                let left = if j > 0 { cur[j - 1] + d } else { f64::INFINITY };
                diag.min(up).min(left)
            };
            cur[j] = acc;
        }
        std::mem::swap(prev, cur);
    }
    let total = prev[m - 1] / (n + m) as f64;
    if total.is_nan() { f64::INFINITY } else { total }
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

    /// Enrolls one contact with 1..=5 recordings of its name.
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
        self.contacts[pos].blocked = true;
        Ok(())
    }

    /// Lifts a block.
    ///
    /// # Errors
    /// [`ContactError::UnknownContact`] if not enrolled.
    pub fn unblock(&mut self, id: ContactId) -> Result<(), ContactError> {
        let pos = self.position(id)?;
        self.contacts[pos].blocked = false;
        Ok(())
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

    /// DTW distance of `spoken` to each contact (min over enrollments), in
    /// book order.
    fn distances(&self, spoken: &FeatureSeq) -> Vec<(ContactId, f64)> {
        // The spoken segment with 0, 3, 6, … frames skipped at its start (see
        // `MatchConfig::max_trim`), each normalised on its own.
        let frames = spoken.frames();
        let max_trim = (frames as f64 * f64::from(self.config.max_trim)) as usize;
        let dim = spoken.dim;
        let mut windows = Vec::new();
        for front in (0..=max_trim.min(frames.saturating_sub(1))).step_by(3) {
            let data = spoken.data[front * dim..].to_vec();
            windows.push(NormSeq::from_seq(&FeatureSeq { dim, data }));
        }
        let mut prev = Vec::new();
        let mut cur = Vec::new();
        self.contacts
            .iter()
            .map(|c| {
                let d = c
                    .enrollments
                    .iter()
                    .flat_map(|e| windows.iter().map(move |w| (e, w)))
                    .map(|(e, w)| dtw_distance(w, e, &self.config, &mut prev, &mut cur))
                    .fold(f64::INFINITY, f64::min);
                (c.id, d)
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
        let mut scored: Vec<(ContactId, f32)> = self
            .distances(spoken)
            .into_iter()
            .map(|(id, d)| (id, score_from_distance(d, self.config.scale)))
            .collect();
        // Highest score first; ties keep book order (lower id first).
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (best, score) = scored[0];
        let runner_up = scored.get(1).copied();
        let margin = match runner_up {
            Some((_, s)) => (score - s).max(0.0),
            None => score,
        };
        Ok(NameMatch {
            best,
            score,
            runner_up,
            margin,
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

    #[test]
    fn dtw_identical_is_zero_and_offset_invariant() {
        let cfg = MatchConfig::default();
        let a = NormSeq::from_seq(&wave(30, 2.0));
        let (mut p, mut c) = (Vec::new(), Vec::new());
        assert!(dtw_distance(&a, &a, &cfg, &mut p, &mut c) < 1e-6);
        // A constant offset and a gain change vanish under normalisation.
        let w = wave(30, 2.0);
        let shifted =
            FeatureSeq::new(4, w.as_slice().iter().map(|v| v * 3.0 + 5.0).collect()).unwrap();
        let b = NormSeq::from_seq(&shifted);
        assert!(dtw_distance(&a, &b, &cfg, &mut p, &mut c) < 1e-5);
    }

    #[test]
    fn dtw_is_symmetric_in_arguments() {
        let cfg = MatchConfig::default();
        let a = NormSeq::from_seq(&wave(30, 2.0));
        let b = NormSeq::from_seq(&wave(41, 3.0));
        let (mut p, mut c) = (Vec::new(), Vec::new());
        let ab = dtw_distance(&a, &b, &cfg, &mut p, &mut c);
        let ba = dtw_distance(&b, &a, &cfg, &mut p, &mut c);
        assert!(ab.is_finite() && ab > 0.1);
        assert!((ab - ba).abs() < 1e-9, "{ab} vs {ba}");
    }

    #[test]
    fn dtw_length_ratio_limit() {
        let cfg = MatchConfig::default();
        let a = NormSeq::from_seq(&wave(20, 2.0));
        let ok = NormSeq::from_seq(&wave(40, 2.0));
        let too_long = NormSeq::from_seq(&wave(41, 2.0));
        let (mut p, mut c) = (Vec::new(), Vec::new());
        assert!(dtw_distance(&a, &ok, &cfg, &mut p, &mut c).is_finite());
        assert_eq!(
            dtw_distance(&a, &too_long, &cfg, &mut p, &mut c),
            f64::INFINITY
        );
        assert_eq!(score_from_distance(f64::INFINITY, 0.3), 0.0);
    }

    #[test]
    fn dtw_single_frame_sequences() {
        let cfg = MatchConfig::default();
        let one = NormSeq::from_seq(&wave(1, 1.0));
        let two = NormSeq::from_seq(&wave(2, 1.0));
        let (mut p, mut c) = (Vec::new(), Vec::new());
        assert!(dtw_distance(&one, &one, &cfg, &mut p, &mut c).is_finite());
        assert!(dtw_distance(&one, &two, &cfg, &mut p, &mut c).is_finite());
        assert!(dtw_distance(&two, &one, &cfg, &mut p, &mut c).is_finite());
    }

    #[test]
    fn band_restricts_warping() {
        // With a wide band DTW can align a sequence with its strongly
        // front-loaded copy; a narrow band makes that costly.
        let base = wave(60, 1.0);
        let warped = seq(60, 4, |t, d| {
            let x = (t as f32 / 60.0).powf(0.4);
            (std::f32::consts::TAU * x + d as f32 * 0.9).sin() * (1.0 + d as f32)
        });
        let (a, b) = (NormSeq::from_seq(&base), NormSeq::from_seq(&warped));
        let (mut p, mut c) = (Vec::new(), Vec::new());
        let wide = MatchConfig {
            band_ratio: 1.0,
            ..MatchConfig::default()
        };
        let narrow = MatchConfig {
            band_ratio: 0.05,
            ..MatchConfig::default()
        };
        let dw = dtw_distance(&a, &b, &wide, &mut p, &mut c);
        let dn = dtw_distance(&a, &b, &narrow, &mut p, &mut c);
        assert!(dn > dw + 0.05, "narrow {dn} wide {dw}");
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
        assert!(only.score > 0.99);
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
