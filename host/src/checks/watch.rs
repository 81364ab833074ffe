//! The campaign-wide watch for the 2016 signature: data accumulating across messages, seen as
//! message size rising with position in the list beyond what recipients' own data explains, or
//! each message starting with a longer copy of the one before. Fed every message once, in any
//! order; judged once all have been seen.

use std::collections::BTreeMap;

use super::CampaignFinding;
use crate::sandbox::Content;

/// How long a run of growing prefixes must be to count (steps, so messages = this + 1).
const PREFIX_RUN: usize = 3;
/// How much the shared prefix must grow at each step, in bytes: more than chance similarity of
/// consecutive names or addresses, less than one address.
const PREFIX_STEP: usize = 8;
/// How much of each text the prefix check keeps.
const PREFIX_KEPT: usize = 4096;
/// Fewest messages the size check judges; smaller campaigns have too little signal.
const SIZE_MIN_MESSAGES: usize = 10;
/// Rank correlation above which rising sizes are flagged.
const SIZE_MAX_CORRELATION: f64 = 0.9;

/// Campaign-wide watch, fed every message once (in any order).
#[derive(Default)]
pub struct Watch {
    /// (index, size less the recipient's own data).
    residuals: Vec<(u32, i64)>,
    /// Messages that arrived ahead of their turn, until their predecessor has been seen.
    waiting: BTreeMap<usize, Vec<u8>>,
    next: usize,
    previous: Option<Vec<u8>>,
    previous_shared: usize,
    run_start: usize,
    run: usize,
    prefix: Option<CampaignFinding>,
}

impl Watch {
    pub fn new() -> Watch {
        Watch {
            next: 1,
            ..Watch::default()
        }
    }

    /// Records recipient `index`'s message; `own_data` is the length of its address and fields.
    /// A message that did not render is recorded with `content: None` so order is kept.
    pub fn observe(&mut self, index: usize, content: Option<&Content>, own_data: usize) {
        let text = content.map_or(Vec::new(), |c| {
            let size = c.subject.len() + c.text.len() + c.html.as_ref().map_or(0, String::len);
            self.residuals
                .push((index as u32, size as i64 - own_data as i64));
            c.text.as_bytes()[..c.text.len().min(PREFIX_KEPT)].to_vec()
        });
        self.waiting.insert(index, text);
        while let Some(text) = self.waiting.remove(&self.next) {
            self.step(self.next, text);
            self.next += 1;
        }
    }

    fn step(&mut self, index: usize, text: Vec<u8>) {
        if let Some(previous) = &self.previous {
            let shared = previous
                .iter()
                .zip(&text)
                .take_while(|(a, b)| a == b)
                .count();
            if !text.is_empty() && shared >= self.previous_shared + PREFIX_STEP {
                if self.run == 0 {
                    self.run_start = index - 1;
                }
                self.run += 1;
                if self.run >= PREFIX_RUN && self.prefix.is_none() {
                    self.prefix = Some(CampaignFinding::GrowingPrefix {
                        first: self.run_start.saturating_sub(1).max(1),
                        last: index,
                    });
                }
            } else {
                self.run = 0;
            }
            self.previous_shared = shared;
        }
        self.previous = Some(text);
    }

    /// The campaign-wide findings, once every message has been observed.
    pub fn finish(mut self) -> Vec<CampaignFinding> {
        let mut findings: Vec<CampaignFinding> = self.prefix.take().into_iter().collect();
        if let Some(rho) = growing_size(&mut self.residuals) {
            findings.push(CampaignFinding::GrowingSize {
                rank_correlation: rho,
                messages: self.residuals.len(),
            });
        }
        findings
    }
}

/// The size signature: a high rank correlation between position and size-less-own-data, with
/// most messages of a size of their own (a smooth rise, not the steps an optional section or a
/// list sorted by plan makes).
fn growing_size(residuals: &mut [(u32, i64)]) -> Option<f64> {
    let n = residuals.len();
    if n < SIZE_MIN_MESSAGES {
        return None;
    }
    residuals.sort_unstable_by_key(|(i, _)| *i);
    let mut distinct: Vec<i64> = residuals.iter().map(|(_, r)| *r).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() * 2 < n {
        return None;
    }
    let positions: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let sizes = ranks(&residuals.iter().map(|(_, r)| *r).collect::<Vec<_>>());
    let rho = pearson(&positions, &sizes);
    (rho > SIZE_MAX_CORRELATION).then_some(rho)
}

/// Ranks with ties averaged (for Spearman's rho).
fn ranks(values: &[i64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| values[i]);
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0;
        for k in i..=j {
            ranks[order[k]] = average;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(text: String) -> Content {
        Content {
            subject: "Hello".into(),
            text,
            html: None,
        }
    }

    fn watch(texts: &[(String, usize)]) -> Vec<CampaignFinding> {
        let mut w = Watch::new();
        // Out of order on purpose: render threads finish in any order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.chunks_mut(3).for_each(|c| c.reverse());
        for i in order {
            w.observe(i + 1, Some(&content(texts[i].0.clone())), texts[i].1);
        }
        w.finish()
    }

    #[test]
    fn the_2016_bug_is_flagged_twice() {
        let mut seen = String::new();
        let texts: Vec<(String, usize)> = (1..=60)
            .map(|i| {
                let me = format!("user{i}@example.com");
                seen.push_str(&me);
                seen.push('\n');
                (format!("{seen}Your agreement changed.\n"), me.len())
            })
            .collect();
        let findings = watch(&texts);
        assert!(
            matches!(
                findings[0],
                CampaignFinding::GrowingPrefix { first: 1, last: 4 }
            ),
            "{findings:?}"
        );
        let CampaignFinding::GrowingSize {
            rank_correlation, ..
        } = findings[1]
        else {
            panic!("{findings:?}");
        };
        assert!(rank_correlation > 0.99, "{findings:?}");
    }

    #[test]
    fn legitimate_variation_is_not_flagged() {
        // Long names that grow down a list sorted by name length: own data explains the size.
        let by_length: Vec<(String, usize)> = (1..=200)
            .map(|i| {
                (
                    format!("Dear {},\nThe terms changed.\n", "N".repeat(i)),
                    i + 20,
                )
            })
            .collect();
        assert_eq!(watch(&by_length), vec![]);
        // A list sorted by plan: the pro section makes a step, not a rise.
        let by_plan: Vec<(String, usize)> = (1..=200)
            .map(|i| {
                let pro = if i > 120 {
                    "As a pro subscriber your renewal date does not change.\n"
                } else {
                    ""
                };
                (format!("Dear N{i:03},\n{pro}The terms changed.\n"), 4 + 20)
            })
            .collect();
        assert_eq!(watch(&by_plan), vec![]);
        // Alphabetical names share ever longer prefixes only by a character or two.
        let alphabetical: Vec<(String, usize)> = [
            "A",
            "Ab",
            "Abc",
            "Abcd",
            "Abcde",
            "Abcdef",
            "Abcdefg",
            "Abcdefgh",
            "Abcdefghi",
            "Abcdefghij",
            "Abcdefghijk",
        ]
        .iter()
        .map(|n| (format!("Dear {n},\nok\n"), n.len()))
        .collect();
        assert_eq!(watch(&alphabetical), vec![]);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10, 20, 10, 30]), vec![0.5, 2.0, 0.5, 3.0]);
    }
}
