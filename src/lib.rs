//! bulk-invites: turns an organizer's email with a CSV of attendees into calendar invites.
//!
//! A Rust port of the Calendar Invite Server's `get_new_bulk_event_invites_from_email`.
//!
//! Functional core, imperative shell. The folders follow the request: `inbound` (notification,
//! email, sender authenticity), `attendees` (the list and its rows), `decision` (who is
//! invited, the SNS contract), `report` (tallies, the summary email) are pure; `aws` (one file
//! per service) and `ledger::store` carry out; `delivery` runs the publish loop; `request`
//! runs one request as named steps; `handler` runs the SQS batch; `app` is what a cold start
//! builds. ARCHITECTURE.md and docs/development.md say what each one owns.

pub mod app;
pub mod attendees;
pub mod aws;
pub mod config;
pub mod continuation;
pub mod deadline;
pub mod decision;
pub mod delivery;
pub mod domain;
pub mod emf;
pub mod error;
pub mod handler;
pub mod inbound;
pub mod ledger;
pub mod metrics;
pub mod report;
pub mod request;
pub mod telemetry;
