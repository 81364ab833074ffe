//! The list's addresses, lower-cased and found by their rolling hash: one open-addressing
//! table sized once per campaign, so a look-up costs a probe or two and a compare, whatever
//! the list's length. Each address is filed in every form it can be written in: as the list
//! has it, with its domain's other IDNA form (the A-label `xn--bcher-kva.de` of `bücher.de`, and
//! back), and each of those in the reader's normal form. A form belongs to the exact passes,
//! to the reader's view, or to both, so that two addresses a reader cannot tell apart (which
//! then both count as the message's own) do not weaken the exact passes.

use super::fold::fold_address_char;
use super::reader::reader_form;

/// The passes a form of an address is looked up by: the text as written or decoded, and the
/// reader's view.
pub(super) const EXACT: u8 = 1;
pub(super) const READER: u8 = 2;

/// Every form `address` is filed in, with the passes it belongs to; `None` when that is only
/// the address itself, for both (as it is for most addresses).
pub(super) fn forms(address: &str) -> Option<Vec<(String, u8)>> {
    let mut forms = vec![(address.to_string(), EXACT | READER)];
    forms.extend(other_idna_form(address).map(|other| (other, EXACT | READER)));
    for i in 0..forms.len() {
        let normal = reader_form(&forms[i].0).into_owned();
        if normal != forms[i].0 {
            forms[i].1 = EXACT;
            match forms.iter_mut().find(|(form, _)| *form == normal) {
                Some(known) => known.1 |= READER,
                None => forms.push((normal, READER)),
            }
        }
    }
    (forms.len() > 1 || forms[0].1 != EXACT | READER).then_some(forms)
}

/// `address` with its domain's A-labels in place of U-labels, or U-labels in place of
/// A-labels (UTS #46, as browsers and mail clients convert them), if that is another text.
fn other_idna_form(address: &str) -> Option<String> {
    let at = address.rfind('@')?;
    let (local, domain) = (&address[..at], &address[at + 1..]);
    let other = if !domain.is_ascii() {
        idna::domain_to_ascii(domain).ok()?
    } else if domain.to_ascii_lowercase().contains("xn--") {
        let (unicode, result) = idna::domain_to_unicode(domain);
        result.ok()?;
        unicode
    } else {
        return None;
    };
    (!other.eq_ignore_ascii_case(domain)).then(|| format!("{local}@{other}"))
}

/// Lower-cased addresses by rolling hash, laid out so that a look-up and its check touch two
/// places in memory: an open-addressing table of (hash, record offset) with linear probing, and
/// the records, each recipient (u32), passes (u8), length (u32) and bytes. Addresses with the same hash (equal
/// once lower-cased, such as a final and a medial sigma, or a 2^-63 collision) take neighbouring
/// slots.
pub(super) struct AddressBook {
    /// (hash with its lowest bit set, record offset); a zero hash marks an empty slot.
    slots: Vec<(u64, usize)>,
    /// `slots.len() == 1 << bits`.
    bits: u32,
    records: Vec<u8>,
}

impl AddressBook {
    /// A book for `n` addresses, at most three quarters full.
    pub(super) fn with_capacity(n: usize) -> AddressBook {
        let len = (n + n / 3 + 1).next_power_of_two().max(16);
        AddressBook {
            slots: vec![(0, 0); len],
            bits: len.trailing_zeros(),
            records: Vec::new(),
        }
    }

    fn key(h: u64) -> u64 {
        h | 1
    }

    /// The slots to probe for `key`, from its home slot on, wrapping around.
    fn probe(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let home = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize;
        let mask = self.slots.len() - 1;
        (0..self.slots.len()).map(move |i| (home + i) & mask)
    }

    pub(super) fn insert(&mut self, h: u64, whose: u32, passes: u8, folded: &str) {
        let offset = self.records.len();
        self.records.extend_from_slice(&whose.to_le_bytes());
        self.records.push(passes);
        self.records
            .extend_from_slice(&(folded.len() as u32).to_le_bytes());
        self.records.extend_from_slice(folded.as_bytes());
        let key = Self::key(h);
        let free = self.probe(key).find(|slot| self.slots[*slot].0 == 0);
        // `with_capacity` leaves a quarter of the slots empty, so there always is one.
        if let Some(free) = free {
            self.slots[free] = (key, offset);
        }
    }

    /// The record offsets of every address with hash `h`.
    fn offsets(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let key = Self::key(h);
        self.probe(key)
            .map(|slot| self.slots[slot])
            .take_while(|(k, _)| *k != 0)
            .filter(move |(k, _)| *k == key)
            .map(|(_, offset)| offset)
    }

    pub(super) fn contains(&self, h: u64) -> bool {
        self.offsets(h).next().is_some()
    }

    /// (recipient, passes, lower-cased address) of the record at `at`.
    fn record(&self, at: usize) -> (u32, u8, &[u8]) {
        let field = |from: usize, to: usize| &self.records[at + from..at + to];
        let whose = u32::from_le_bytes(field(0, 4).try_into().unwrap_or_default());
        let len = u32::from_le_bytes(field(5, 9).try_into().unwrap_or_default()) as usize;
        (whose, self.records[at + 4], field(9, 9 + len))
    }

    /// The recipients with a form for `pass` whose lower-cased text is `written` lower-cased
    /// (which hashes to `h`).
    pub(super) fn with<'a>(
        &'a self,
        h: u64,
        pass: u8,
        written: &'a str,
    ) -> impl Iterator<Item = u32> + 'a {
        self.offsets(h).filter_map(move |at| {
            let (whose, passes, address) = self.record(at);
            (passes & pass != 0 && folds_to(written, address)).then_some(whose)
        })
    }
}

/// Whether `written`, lower-cased, is `folded`.
fn folds_to(written: &str, folded: &[u8]) -> bool {
    if written.is_ascii() {
        return written.as_bytes().eq_ignore_ascii_case(folded);
    }
    let mut rest = folded;
    let mut buf = [0; 12];
    for c in written.chars() {
        let c = fold_address_char(c, &mut buf);
        if rest.len() < c.len() || rest[..c.len()] != *c {
            return false;
        }
        rest = &rest[c.len()..];
    }
    rest.is_empty()
}
