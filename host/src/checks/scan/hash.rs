//! The rolling hash the scan extends one character at a time, to the left from an `@` and to
//! the right into a domain, and a hasher for sets keyed by such hashes. Each step costs a
//! multiply and an add, whatever the length hashed so far.

use std::hash::{BuildHasher, Hasher, RandomState};

/// A polynomial hash that grows to the left: `H(x + s) = x + 1 + B·H(s)` (mod 2^64). Its odd
/// base is drawn at random per campaign, so a renderer cannot aim for collisions; one would only
/// cost a comparison, since every hit is checked against the address itself.
#[derive(Clone, Copy)]
pub(super) struct Rolling {
    base: u64,
}

impl Rolling {
    pub(super) fn new() -> Rolling {
        let random = RandomState::new().hash_one(0x5ca1_ab1e_u64);
        Rolling { base: random | 1 }
    }

    /// The hash of `bytes` followed by what `h` is the hash of.
    pub(super) fn prepend(&self, mut h: u64, bytes: &[u8]) -> u64 {
        for b in bytes.iter().rev() {
            h = h.wrapping_mul(self.base).wrapping_add(u64::from(*b) + 1);
        }
        h
    }

    /// The hash of `bytes`, to be extended to the right: `H(s + x) = H(s) + (x + 1)·B^len(s)`,
    /// the same value as prepending every byte from the last.
    pub(super) fn forward(&self, bytes: &[u8]) -> Forward {
        let mut hash = Forward {
            base: self.base,
            power: 1,
            h: 0,
            len: 0,
        };
        hash.append(bytes);
        hash
    }
}

/// A hash being extended to the right (see [`Rolling::forward`]).
pub(super) struct Forward {
    base: u64,
    /// `base` to the power `len`.
    power: u64,
    /// The hash so far, and the length of what it hashes, in bytes.
    pub(super) h: u64,
    pub(super) len: usize,
}

impl Forward {
    pub(super) fn append(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.h = self
                .h
                .wrapping_add((u64::from(*b) + 1).wrapping_mul(self.power));
            self.power = self.power.wrapping_mul(self.base);
        }
        self.len += bytes.len();
    }
}

/// Hasher for keys that are already hashes: a multiply and two shifts spread them over the bits
/// the table uses, instead of a full SipHash per look-up.
#[derive(Default)]
pub(super) struct Spread(u64);

impl Hasher for Spread {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // The table takes its buckets from the low bits, which a polynomial hash mod 2^64
        // mixes least: fold the high half in before spreading.
        let x = (n ^ (n >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
