//! The report: what happened to each row, and the email that tells the organizer.
//!
//! [`tally`] counts a request's rows per event and names rows to the organizer; [`summary`]
//! renders the status email (text, HTML, the rejected-rows file) from it. All of it is pure.
//! The reasons themselves are the list's vocabulary: [`crate::attendees::outcome`].

pub mod summary;
pub mod tally;
