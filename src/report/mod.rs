//! The report: what happened to each row, and the email that tells the organizer.
//!
//! [`tally`] counts a request's rows per event and names rows to the organizer; [`sections`]
//! says what the organizer is told, one function per section of the summary (and the help, and
//! the last word); [`results`] is the same outcome for programs (`results.json`); [`summary`]
//! renders it all (text, HTML, the attached files, MIME). All of it is pure. The reasons themselves are the domain's vocabulary: [`crate::domain::reason`].

pub mod results;
pub mod sections;
pub mod summary;
pub mod tally;
