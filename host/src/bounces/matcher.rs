//! Whose report it is. Anyone can mail the bounce address, so a report's own claims (its
//! Final-Recipient, the addresses a plain-text notice names) are only believed where nothing
//! better exists:
//!
//! - a recipient's token, found where isomail put it — the VERP address the report was sent to
//!   or the original's Return-Path (`[delivery] return_path`), or the original's
//!   List-Unsubscribe (`[unsubscribe] url` and `mailto`) — decides, because only the secret's
//!   holder can make one;
//! - with VERP on, a report without a valid token is about nobody: it is journaled as
//!   unverified;
//! - without VERP, an address the report names counts when it is on the campaign's list (so
//!   anyone who can mail the bounce address can suppress an address they know: README says so).

use std::collections::HashMap;

use crate::campaign::Campaign;
use crate::campaign::tokens::TOKEN;
use crate::journal::{Journal, State};

use super::report::Original;

/// How many places in one header are tried for a token (a forged header could repeat one).
const MAX_TRIES: usize = 64;

/// Who a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// The recipient whose token the report carries.
    Token(usize),
    /// The listed recipient the report names (VERP off).
    Named(usize),
    /// VERP is on and the report carries no valid token: about nobody.
    Unverified,
    /// Nobody on this campaign's list.
    Nobody,
}

/// The campaign's recipients by token and by address.
pub struct Matcher {
    /// `[delivery] return_path` around its `{token}`, lower-cased.
    verp: Option<(String, String)>,
    /// The unsubscribe URL and mailto around their `{token}`, lower-cased.
    links: Vec<(String, String)>,
    by_token: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    /// Each recipient's address as listed and state before this reading.
    pub rows: HashMap<usize, (String, State)>,
}

fn around_token(template: &str) -> Option<(String, String)> {
    let (a, b) = template.split_once(TOKEN)?;
    Some((a.to_ascii_lowercase(), b.to_ascii_lowercase()))
}

impl Matcher {
    pub fn new(campaign: &Campaign, journal: &Journal) -> Result<Matcher, crate::Error> {
        let tokens = campaign.tokens.as_ref();
        let verp = tokens.and(
            campaign
                .delivery
                .return_path
                .as_deref()
                .and_then(around_token),
        );
        let links = tokens
            .and(campaign.unsubscribe.as_ref())
            .map(|u| {
                // The header made with the placeholder for a token is the list of templates:
                // `<https://…{token}…>, <mailto:…{token}…>`.
                u.header(TOKEN)
                    .split(['<', '>'])
                    .filter(|t| t.contains(TOKEN))
                    .filter_map(around_token)
                    .collect()
            })
            .unwrap_or_default();
        let (mut by_token, mut by_email, mut rows) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        for row in journal.all_rows()? {
            if let Some(tokens) = tokens {
                by_token.insert(tokens.token(&row.email), row.index);
            }
            by_email.insert(crate::campaign::suppress::normalise(&row.email), row.index);
            rows.insert(row.index, (row.email, row.state));
        }
        Ok(Matcher {
            verp,
            links,
            by_token,
            by_email,
            rows,
        })
    }

    /// Whether a report without a token is about nobody.
    pub fn verp(&self) -> bool {
        self.verp.is_some()
    }

    /// Who a report is about: by token first, then (VERP off) by the addresses it names.
    pub fn whose(&self, addressed_to: &[String], original: &Original, named: &[&str]) -> Whose {
        let verp = self.verp.iter();
        let by_token = addressed_to
            .iter()
            .chain(&original.return_path)
            .find_map(|a| verp.clone().find_map(|t| self.token_in(a, t, true)))
            .or_else(|| {
                original.list_unsubscribe.iter().find_map(|header| {
                    self.links
                        .iter()
                        .find_map(|t| self.token_in(header, t, false))
                })
            });
        if let Some(index) = by_token {
            return Whose::Token(index);
        }
        if self.verp() {
            return Whose::Unverified;
        }
        named
            .iter()
            .find_map(|a| {
                self.by_email
                    .get(&crate::campaign::suppress::normalise(a))
                    .copied()
            })
            .map_or(Whose::Nobody, Whose::Named)
    }

    /// The recipient whose token sits in `text` between `prefix` and `suffix`: the whole of
    /// `text` when `whole` (an address), else anywhere in it (a header of URLs).
    fn token_in(
        &self,
        text: &str,
        (prefix, suffix): &(String, String),
        whole: bool,
    ) -> Option<usize> {
        let lower = text.trim().to_ascii_lowercase();
        let text = text.trim();
        let starts: Vec<usize> = if whole {
            lower
                .starts_with(prefix.as_str())
                .then_some(0)
                .into_iter()
                .collect()
        } else {
            lower
                .match_indices(prefix.as_str())
                .map(|(i, _)| i)
                .take(MAX_TRIES)
                .collect()
        };
        starts.into_iter().find_map(|start| {
            let from = start + prefix.len();
            let rest = text.get(from..)?;
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
                .count();
            let after = lower.get(from + len..)?;
            let fits = if whole {
                after == suffix.as_str()
            } else {
                after.starts_with(suffix.as_str())
            };
            // The token is case-sensitive: cut it from the text as written.
            fits.then(|| self.by_token.get(&rest[..len]).copied())
                .flatten()
        })
    }
}
