//! The invocation a record is processed in: its deadline, and the holder ids it takes ledger
//! items with.
//!
//! Threats: a runtime that reports a deadline that cannot be right gets the fallback budget
//! ([`Deadline::from_runtime`]); two records of one batch that name the same stored email must
//! not share a holder id, or the claim's "our own retry" clause would let both in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use tracing::warn;

use crate::deadline::{Deadline, FALLBACK_BUDGET};

/// The invocation a record is processed in: who holds the ledger, and until when.
#[derive(Debug)]
pub struct Invocation {
    /// Ledger holder id: the Lambda request id, made unique per attempt and per claim.
    pub holder: String,
    /// The Lambda deadline.
    pub deadline: Deadline,
    claims: AtomicU64,
}

impl Invocation {
    /// From the Lambda context. A deadline that cannot be right (past, or further than any
    /// Lambda timeout) is replaced by a fallback budget, with one warning per process.
    pub fn from_context(context: &Context) -> Self {
        static WARNED: std::sync::Once = std::sync::Once::new();
        let now = SystemTime::now();
        let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let deadline = Deadline::from_runtime(context.deadline, now).unwrap_or_else(|fallback| {
            WARNED.call_once(|| {
                warn!(
                    reported_deadline_ms = context.deadline,
                    fallback_budget_s = FALLBACK_BUDGET.as_secs(),
                    "the runtime's deadline is in the past or too far away (cargo lambda watch \
                     sends a duration); using the fallback budget"
                )
            });
            fallback
        });
        Self {
            holder: format!("{}/{nanos}", context.request_id),
            deadline,
            claims: AtomicU64::new(0),
        }
    }

    /// The same invocation with a holder id of its own for one claim.
    pub fn for_claim(&self) -> Self {
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        Self {
            holder: format!("{}/{n}", self.holder),
            deadline: self.deadline,
            claims: AtomicU64::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_gets_its_own_holder() {
        let invocation = Invocation::from_context(&Context::default());
        let (a, b) = (invocation.for_claim(), invocation.for_claim());
        assert_ne!(a.holder, b.holder);
        assert!(a.holder.starts_with(&invocation.holder));
        assert_eq!(a.deadline, invocation.deadline);
    }
}
