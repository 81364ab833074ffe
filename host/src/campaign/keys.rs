//! The `[[dkim]]` keys: each block's key file read as a secret (private to its owner, within the
//! size a key may be) and parsed, before anything is rendered. Signing itself is the message
//! builder's ([`crate::message::dkim`]); the campaign only hands it checked signers.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::CampaignError;
use crate::message::dkim::Signer;

/// One `[[dkim]]` block: one signature on every message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DkimSection {
    domain: String,
    selector: String,
    key_file: PathBuf,
}

/// Each `[[dkim]]` block's key, read and checked (private, RSA of 2048 bits or more, or
/// Ed25519).
pub(super) fn dkim_signers(
    blocks: &[DkimSection],
    base: &Path,
    shown: &str,
) -> Result<Vec<Signer>, CampaignError> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, block)| {
            let path = super::resolve(base, &block.key_file);
            Signer::from_pem_file(&path, &block.domain, &block.selector).map_err(|e| {
                CampaignError::Setting {
                    file: shown.to_owned(),
                    section: "[dkim]",
                    key: Some("key_file"),
                    reason: format!(
                        "#{} (d={}, s={}) key_file = \"{}\"",
                        i + 1,
                        block.domain,
                        block.selector,
                        path.display()
                    ),
                    source: Some(Box::new(e)),
                }
            })
        })
        .collect()
}
