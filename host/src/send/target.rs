//! The transport a campaign names, made ready for a send: its Maildir outbox, its relay or
//! relays (with their passwords, which only a real send reads), or the dry run. A target the
//! campaign file names but that cannot be used is the operator's to fix (`[delivery]`).

use super::error::SendError;
use crate::campaign::{Campaign, Relay, Secret, Target, Tls};
use crate::transport::maildir::Maildir;
use crate::transport::relays::{self, Relays};
use crate::transport::smtp::{Smtp, SmtpConfig};
use crate::transport::{DryRun, Transport};

/// The transport the campaign names: its Maildir outbox or its relay (or none, dry).
pub(super) fn transport(
    campaign: &Campaign,
    dry_run: bool,
) -> Result<Box<dyn Transport>, SendError> {
    if dry_run {
        return Ok(Box::new(DryRun));
    }
    match &campaign.delivery.target {
        Target::Outbox { dir, written } => match Maildir::open(dir) {
            Ok(maildir) => Ok(Box::new(maildir)),
            Err(source) => Err(SendError::Outbox {
                campaign: campaign.path.clone(),
                written: written.clone(),
                source,
            }),
        },
        Target::Smtp(relays) => {
            let mut each = Vec::with_capacity(relays.len());
            for relay in relays {
                match Smtp::new(smtp_config(campaign, relay)?) {
                    Ok(smtp) => each.push(smtp),
                    Err(relay) => {
                        return Err(SendError::Relay {
                            campaign: campaign.path.clone(),
                            relay,
                        });
                    }
                }
            }
            // One relay is used as itself: its description (and so the journal fingerprint)
            // stays what it was before lists of relays existed.
            if each.len() == 1
                && let Some(smtp) = each.pop()
            {
                return Ok(Box::new(smtp));
            }
            let relays = each
                .into_iter()
                .map(|smtp| relays::Relay {
                    name: smtp.name(),
                    transport: Box::new(smtp),
                })
                .collect();
            Ok(Box::new(Relays::new(relays)))
        }
    }
}

/// The relay's settings (checked when the campaign loaded) and its password, which only a
/// real send reads.
fn smtp_config(campaign: &Campaign, relay: &Relay) -> Result<SmtpConfig, SendError> {
    let password = match &relay.password {
        Some(Secret::Env(var)) => Some(std::env::var(var).map_err(|_| SendError::PasswordEnv {
            campaign: campaign.path.clone(),
            var: var.clone(),
        })?),
        Some(Secret::File { path, .. }) => {
            let secret = crate::input_file::read_text_for(
                "password_file",
                path,
                crate::input_file::TEXT_MAX_BYTES,
            )
            .map_err(|why| SendError::PasswordFile {
                campaign: campaign.path.clone(),
                why,
            })?;
            Some(secret.trim_end_matches(['\r', '\n']).to_owned())
        }
        None => None,
    };
    let d = &campaign.delivery;
    Ok(SmtpConfig {
        host: relay.url.host.clone(),
        port: relay.url.port,
        implicit_tls: relay.url.implicit_tls,
        starttls: !relay.url.implicit_tls && relay.tls == Tls::Required,
        user: relay.url.user.clone(),
        password,
        ca_file: relay.ca_file.clone(),
        hello: campaign.from.email.domain().to_owned(),
        nodelay: d.tcp_nodelay,
        command_timeout: d.timeout,
        data_timeout: d.timeout * 2,
    })
}
