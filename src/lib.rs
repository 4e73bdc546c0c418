//! bulk-invites: turns an organizer's email with a CSV of attendees into calendar invites.
//!
//! A Rust port of the Calendar Invite Server's `get_new_bulk_event_invites_from_email`.
//!
//! Functional core, imperative shell. The folders follow the request: `domain` (the
//! vocabulary), `attendees` (any list to rows), `inbound` (notification, email, sender
//! authenticity), `report` (tallies, the summary), `decision` (who is invited, the SNS
//! contract) are pure; `aws` (one file per service) and `ledger` (the item and the lease on it)
//! carry out; `delivery` runs the publish loop; `request` runs one request as numbered steps;
//! `handler` runs the SQS batch; `app` is what a cold start builds. ARCHITECTURE.md says what
//! each one owns and the invariants across them.

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
