//! The errors of this area.

/// What can go wrong in this area (see [`crate::Error`] for the exit codes).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {}
