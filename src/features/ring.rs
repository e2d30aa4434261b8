//! [`FeatureRing`]: the most recent N feature frames, readable as one
//! contiguous, oldest-first slice.

use crate::error::{ConfigError, Error};

/// A ring buffer of the most recent `capacity` frames of `dim` values each.
///
/// Every frame is written twice, into slot `i` and slot `i + capacity` of a
/// buffer of `2 × capacity` frames, so the newest `capacity` frames are
/// always contiguous and in order: [`window`](Self::window) is a plain slice,
/// with no copy of the history per hop. The cost is one extra copy of each
/// new frame (`dim` floats). Never allocates after construction.
#[derive(Debug, Clone)]
pub struct FeatureRing {
    dim: usize,
    capacity: usize,
    data: Vec<f32>,
    /// Slot the next frame is written to, in `0..capacity`.
    next: usize,
    len: usize,
    pushed: u64,
}

impl FeatureRing {
    /// A ring of `capacity` frames of `dim` values, initially empty.
    pub fn new(dim: usize, capacity: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(ConfigError::RingCapacity.into());
        }
        if dim == 0 {
            return Err(ConfigError::NotPositive { field: "dim" }.into());
        }
        Ok(FeatureRing {
            dim,
            capacity,
            data: vec![0.0; 2 * capacity * dim],
            next: 0,
            len: 0,
            pushed: 0,
        })
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Maximum number of frames held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Frames currently held (`min(pushed, capacity)`).
    pub fn len(&self) -> usize {
        self.len
    }
    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True once `capacity` frames have been pushed.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity
    }
    /// Frames pushed since construction or the last [`clear`](Self::clear).
    pub fn total_pushed(&self) -> u64 {
        self.pushed
    }

    /// Append one frame. `frame.len()` must equal [`dim`](Self::dim); a
    /// frame of another length is refused with an error and not stored.
    pub fn push(&mut self, frame: &[f32]) -> Result<(), Error> {
        if frame.len() != self.dim {
            return Err(Error::Shape {
                what: "feature frame",
                expected: self.dim,
                found: frame.len(),
            });
        }
        let d = self.dim;
        let lo = self.next * d;
        let hi = (self.next + self.capacity) * d;
        self.data[lo..lo + d].copy_from_slice(frame);
        self.data[hi..hi + d].copy_from_slice(frame);
        self.next = (self.next + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        self.pushed += 1;
        Ok(())
    }

    /// The held frames, oldest first, as one row-major slice of
    /// `len() × dim()` values.
    pub fn window(&self) -> &[f32] {
        let end = self.next + self.capacity;
        let start = end - self.len;
        &self.data[start * self.dim..end * self.dim]
    }

    /// The most recent `n` frames (or fewer, if fewer are held), oldest first.
    pub fn latest(&self, n: usize) -> &[f32] {
        let w = self.window();
        let n = n.min(self.len);
        &w[w.len() - n * self.dim..]
    }

    /// Forget every frame (keeps the allocation).
    pub fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
        self.pushed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_last_frames_in_order() {
        let mut r = FeatureRing::new(2, 3).unwrap();
        assert!(r.window().is_empty());
        for i in 0..7 {
            r.push(&[i as f32, -(i as f32)]).unwrap();
        }
        assert_eq!(r.window(), &[4.0, -4.0, 5.0, -5.0, 6.0, -6.0]);
        assert_eq!(r.latest(1), &[6.0, -6.0]);
        assert_eq!(r.total_pushed(), 7);
    }

    #[test]
    fn wrong_frame_length_is_refused() {
        let mut r = FeatureRing::new(2, 3).unwrap();
        assert!(r.push(&[1.0]).is_err());
        assert!(r.is_empty());
        assert!(FeatureRing::new(2, 0).is_err());
    }
}
