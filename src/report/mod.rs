//! The report: what happened to each row, and the email that tells the organizer.
//!
//! [`tally`] counts a request's rows per event and names rows to the organizer; [`sections`]
//! says what the organizer is told, one function per section of the summary (and the help, and
//! the last word); [`summary`] renders it (text, HTML, the rejected-rows file, MIME). All of it
//! is pure. The reasons themselves are the domain's vocabulary: [`crate::domain::reason`].

pub mod sections;
pub mod summary;
pub mod tally;
