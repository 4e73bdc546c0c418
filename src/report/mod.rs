//! The report: what happened to each row, and the email that tells the organizer.
//!
//! [`reasons`] holds why a row was not sent and the per-event tally; [`summary`] renders the
//! status email (text, HTML, the rejected-rows file) from a report. All of it is pure.

pub mod reasons;
pub mod summary;
