//! What one message's instance may use: the [`Limits`] a `[sandbox]` section sets, the bounds a
//! campaign may raise them to, and which [`Limit`] a message broke. A breach fails that message
//! only; the numbers here are the whole of the policy.

use serde::Deserialize;

/// Per-instance limits. Every field has a default that a `[sandbox]` section may override.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// WebAssembly instructions one message may execute (wasmtime fuel). By default
    /// [`Limits::DEFAULT_FUEL`]: about a second of work, thousands of times what a template needs.
    /// 0 turns instruction counting off (renders about a quarter faster); `wall_ms` then alone
    /// stops a renderer that runs away.
    pub fuel: u64,
    /// Wall-clock time one message may take, in milliseconds. By default [`Limits::DEFAULT_WALL_MS`].
    pub wall_ms: u64,
    /// Linear memory one instance may grow to, in bytes. By default [`Limits::DEFAULT_MEMORY_BYTES`].
    pub memory_bytes: usize,
    /// Size of one message's rendered subject, text and HTML together, in bytes. By default
    /// [`Limits::DEFAULT_OUTPUT_BYTES`].
    pub output_bytes: usize,
    /// WebAssembly stack one instance may use, in bytes. By default [`Limits::DEFAULT_STACK_BYTES`].
    pub stack_bytes: usize,
}

impl Limits {
    pub const DEFAULT_FUEL: u64 = 2_000_000_000;
    pub const DEFAULT_WALL_MS: u64 = 5_000;
    pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
    pub const DEFAULT_OUTPUT_BYTES: usize = 1 << 20;
    pub const DEFAULT_STACK_BYTES: usize = 512 << 10;

    /// The most a campaign file may raise each limit to. A limit is there to stop a renderer
    /// that misbehaves, so a campaign cannot switch one off: `fuel = 0` leaves `wall_ms` in
    /// charge, and `wall_ms` itself is capped.
    pub const MAX_FUEL: u64 = 1_000_000_000_000;
    pub const MAX_WALL_MS: u64 = 60_000;
    pub const MAX_MEMORY_BYTES: usize = 4 << 30;
    pub const MAX_OUTPUT_BYTES: usize = 64 << 20;
    pub const MAX_STACK_BYTES: usize = 4 << 20;

    /// Checks the limits make sense; the error names the offending key.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let checks = [
            (self.wall_ms == 0, LimitsError::WallTimeZero),
            (
                self.wall_ms > Self::MAX_WALL_MS,
                LimitsError::WallTimeTooLong,
            ),
            (self.fuel > Self::MAX_FUEL, LimitsError::FuelTooHigh),
            (self.memory_bytes < (1 << 20), LimitsError::MemoryTooSmall),
            (
                self.memory_bytes > Self::MAX_MEMORY_BYTES,
                LimitsError::MemoryTooLarge,
            ),
            (self.output_bytes == 0, LimitsError::OutputZero),
            (
                self.output_bytes > Self::MAX_OUTPUT_BYTES,
                LimitsError::OutputTooLarge,
            ),
            (self.stack_bytes < (64 << 10), LimitsError::StackTooSmall),
            (
                self.stack_bytes > Self::MAX_STACK_BYTES,
                LimitsError::StackTooLarge,
            ),
        ];
        match checks.into_iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Self::DEFAULT_FUEL,
            wall_ms: Self::DEFAULT_WALL_MS,
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            output_bytes: Self::DEFAULT_OUTPUT_BYTES,
            stack_bytes: Self::DEFAULT_STACK_BYTES,
        }
    }
}

/// Which key of a `[sandbox]` section is out of bounds, and which way. The text names the key
/// without the section: whoever reports it says where the section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("wall_ms must be at least 1")]
    WallTimeZero,
    #[error("wall_ms must be at most {} (one minute)", Limits::MAX_WALL_MS)]
    WallTimeTooLong,
    #[error("fuel must be at most {} (0 = not counted)", Limits::MAX_FUEL)]
    FuelTooHigh,
    #[error("memory_bytes must be at least 1 MiB (1048576)")]
    MemoryTooSmall,
    #[error("memory_bytes must be at most 4 GiB")]
    MemoryTooLarge,
    #[error("output_bytes must be at least 1")]
    OutputZero,
    #[error("output_bytes must be at most 64 MiB ({})", Limits::MAX_OUTPUT_BYTES)]
    OutputTooLarge,
    #[error("stack_bytes must be at least 64 KiB (65536)")]
    StackTooSmall,
    #[error("stack_bytes must be at most 4 MiB")]
    StackTooLarge,
}

/// Which limit a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Fuel,
    WallTime,
    Memory,
    Output,
    Stack,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Fuel => "CPU limit (sandbox.fuel)",
            Limit::WallTime => "time limit (sandbox.wall_ms)",
            Limit::Memory => "memory limit (sandbox.memory_bytes)",
            Limit::Output => "output size limit (sandbox.output_bytes)",
            Limit::Stack => "stack limit (sandbox.stack_bytes)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Limits, LimitsError};

    #[test]
    fn each_bad_limit_is_named_as_before() {
        let with = |f: fn(&mut Limits)| {
            let mut limits = Limits::default();
            f(&mut limits);
            limits.validate().map_err(|e| e.to_string())
        };
        assert_eq!(Limits::default().validate(), Ok(()));
        assert_eq!(
            with(|l| l.wall_ms = 60_001),
            Err("wall_ms must be at most 60000 (one minute)".into())
        );
        assert_eq!(
            with(|l| l.fuel = u64::MAX),
            Err("fuel must be at most 1000000000000 (0 = not counted)".into())
        );
        assert_eq!(
            with(|l| l.output_bytes = usize::MAX),
            Err("output_bytes must be at most 64 MiB (67108864)".into())
        );
        // The first broken key is the one named.
        let both = Limits {
            wall_ms: 0,
            stack_bytes: 0,
            ..Limits::default()
        };
        assert_eq!(both.validate(), Err(LimitsError::WallTimeZero));
    }
}
