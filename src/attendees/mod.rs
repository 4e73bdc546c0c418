//! The attendee list: from a list's text to candidate invites and rejected rows.
//!
//! [`records`] splits the text into bounded records; [`rows`] applies the header and per-row
//! rules; [`outcome`] says where a row is and why it was not sent; [`domain`] holds the types that can only contain valid values (`SenderEmail`,
//! `AttendeeEmail`, `EventUid`); [`cells`] cleans what a cell may carry (control characters,
//! spreadsheet formulas); [`typos`] spots misspelt domains; [`sheets`] reads `.xlsx` and `.ods`
//! workbooks into list text, after [`workbook`] has checked what each holds against limits
//! and charged it to the request's budget of bytes and time. All of it is pure (the time
//! budget reads the clock).

pub mod cells;
pub mod header;
pub mod lists;
pub mod outcome;
pub mod records;
pub mod rows;
pub mod sheets;
pub mod typos;
pub mod workbook;
