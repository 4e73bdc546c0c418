//! The attendee lists: from what an email carries to candidate invites and rejected rows.
//!
//! [`lists`] is the one way in: it reads every list of a request (CSV text, a pasted list, a
//! spreadsheet) into rows. Beneath it, [`header`] finds a list's columns (and a CSV file's
//! delimiter); [`records`] splits text into bounded records; [`rows`] applies the per-row
//! rules; [`outcome`] says what became of rows not sent and of each list; [`cells`] cleans what
//! a cell may carry (control characters, spreadsheet formulas); [`typos`] spots misspelt
//! domains; [`sheets`] reads `.xlsx` and `.ods` workbooks into list text, after [`workbook`]
//! has checked what each holds against limits, charging [`budget`], the request's bytes and
//! time for spreadsheets. All of it is pure (the budget reads the clock).

pub mod budget;
pub mod cells;
pub mod header;
pub mod lists;
pub mod outcome;
pub mod records;
pub mod rows;
pub mod sheets;
pub mod typos;
pub mod workbook;
pub mod xls;
