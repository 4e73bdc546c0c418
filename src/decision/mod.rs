//! The decision: who is invited, and the messages that carry the invites.
//!
//! [`plan`] turns candidates and the DynamoDB lookups into invites and not-sent rows, applying
//! each event's invite quota ([`limits`]) and the block records a large request keeps
//! ([`blocked`]);
//! [`contract`] is the SNS message other services read (its shape is sacred); [`batches`] packs
//! messages into `PublishBatch` calls within SNS's limits. All of it is pure.

pub mod batches;
pub mod blocked;
pub mod contract;
pub mod limits;
pub mod plan;
