//! The request ledger: one DynamoDB item per stored email, so a redelivered SQS message neither
//! publishes invites twice nor mails a second summary.
//!
//! [`state`] holds the key, the checkpoint and the progress tracker (pure); [`store`] is the only
//! code that reads or writes the `bulk_request#` item; [`lease`] is the handle an invocation
//! gets when it takes a request, and the only way it moves the item forward or completes it.

pub mod lease;
pub mod state;
pub mod store;
