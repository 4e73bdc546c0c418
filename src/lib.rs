//! bulk-invites: turns an organizer's email with a CSV of attendees into calendar invites.
//!
//! A Rust port of the Calendar Invite Server's `get_new_bulk_event_invites_from_email`.
//! Pure modules (`notification`, `inbound`, `attendees`, `plan`, `contract`, `batches`,
//! `report`, `summary`) decide; `aws` carries out; `handler` ties them together in order.

pub mod attendees;
pub mod auth_results;
pub mod authenticity;
pub mod aws;
pub mod batches;
pub mod cells;
pub mod config;
pub mod continuation;
pub mod contract;
pub mod delivery;
pub mod domain;
pub mod emf;
pub mod error;
pub mod handler;
pub mod inbound;
pub mod ledger;
pub mod metrics;
pub mod notification;
pub mod plan;
pub mod records;
pub mod report;
pub mod summary;
pub mod telemetry;
