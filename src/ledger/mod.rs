//! The request ledger: one DynamoDB item per stored email, so a redelivered SQS message neither
//! publishes invites twice nor mails a second summary.
//!
//! [`state`] holds the key, the checkpoint and the progress tracker (pure); [`store`] is the only
//! code that reads or writes the `bulk_request#` item.

pub mod state;
pub mod store;
