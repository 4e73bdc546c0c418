//! Every integration test, in one binary (one link instead of eight): the real handler, the real
//! SDK over HTTP, moto server on 127.0.0.1 (started by `make test`), and what landed asserted.
//!
//! - `pipeline`: the whole function, request by request
//! - `samples`: the files in `events/` drive the handler as Lambda delivers them
//! - `logs`: the real binary's log lines in Lambda's JSON shape (issue 16)
//! - `once`: one ledger key per stored email, however it is named (issue 17)
//! - `delivery`: at-least-once delivery without loss or duplicates (issue 4)
//! - `scale`: batched, bounded AWS calls (issue 3)
//! - `failures`: nothing lost: environment faults, long requests, the dead-letter queue (issue 8)
//! - `hostile_sheets`: spreadsheets built to stop the function, through the capped binary (issue 17)
//! - `security`: sender authenticity and injection-proof attendee data (issue 10)
//! - `organizers`: what organizers send and get back: previews, pasted lists, typo hints,
//!   split names, spreadsheets, a readable summary (issue 12)
//! - `properties`: arbitrary input never panics and ends in a classified result
//! - `system_rules`: the system's own bulk rules: suspension and each event's invite limit
//!   (issue 16)
//! - `startup`: the binary's cold start
//! - `answers`: what people and programs get back: summaries that answer their request (issue 19)

mod common;

mod answers;
mod delivery;
mod failures;
mod hostile_sheets;
mod logs;
mod once;
mod organizers;
mod pipeline;
mod properties;
mod samples;
mod scale;
mod security;
mod startup;
mod system_rules;
