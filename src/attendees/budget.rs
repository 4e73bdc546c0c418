//! The budget every read of a request's spreadsheets is charged to: bytes of XML decompressed,
//! list text made, and time.
//!
//! Invariant: all the request's spreadsheets together decompress at most [`MAX_XML_READ`],
//! make at most [`super::sheets::MAX_TEXT_BYTES`] of list text, and stop at the budget's time
//! (the invocation's time for reading, or [`MAX_READ_TIME`], whichever comes first): every
//! read goes through a `Metered` reader that fails once the time is spent, so a library
//! reading through it stops in time whatever it is doing.

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use super::sheets::SheetError;

/// Most bytes of XML the spreadsheets of one request may decompress, every pass counted (the
/// check of each zip, the library's read of each part): a 64 MB sheet read once fits.
pub const MAX_XML_READ: u64 = 160 * 1024 * 1024;
/// Longest the spreadsheets of one request may take to read.
pub const MAX_READ_TIME: Duration = Duration::from_secs(30);

/// What the spreadsheets of one request may still spend, all of them together.
#[derive(Debug, Clone)]
pub struct Budget {
    /// XML bytes that may still be decompressed, by any pass.
    pub(super) xml_bytes: u64,
    /// List text the sheets may still make (see [`super::sheets`]).
    pub(super) text_bytes: usize,
    /// When reading must stop.
    until: Instant,
    /// True when `until` is the invocation's time running out rather than [`MAX_READ_TIME`]:
    /// a read stopped then says nothing about the file.
    cut_by_deadline: bool,
}

impl Budget {
    /// A request's budget: [`MAX_XML_READ`], [`super::sheets::MAX_TEXT_BYTES`], and reading
    /// stopped at `until` or after [`MAX_READ_TIME`], whichever comes first.
    pub fn new(until: Instant) -> Self {
        let longest = Instant::now() + MAX_READ_TIME;
        Self {
            xml_bytes: MAX_XML_READ,
            text_bytes: super::sheets::MAX_TEXT_BYTES,
            until: until.min(longest),
            cut_by_deadline: until < longest,
        }
    }

    /// True when a read stopped for time was stopped by the invocation's deadline, not by
    /// [`MAX_READ_TIME`]: the file is not at fault, and the request should be tried again.
    pub fn cut_by_deadline(&self) -> bool {
        self.cut_by_deadline
    }

    /// Charges `bytes` of XML about to be read.
    pub(super) fn charge(&mut self, bytes: u64) -> Result<(), SheetError> {
        self.xml_bytes = self
            .xml_bytes
            .checked_sub(bytes)
            .ok_or(SheetError::TooLarge(
                "more than 160 MB of data to read in the request's spreadsheets",
            ))?;
        Ok(())
    }

    /// `Err` once the time is spent.
    pub(super) fn check_time(&self) -> Result<(), SheetError> {
        if Instant::now() >= self.until {
            Err(SheetError::TooSlow)
        } else {
            Ok(())
        }
    }

    /// When reading must stop.
    pub(super) fn until(&self) -> Instant {
        self.until
    }
}

/// Bytes read through it are counted, and every read fails once `until` has passed, so a
/// library reading through it stops in time whatever it is doing.
pub(super) struct Metered<R> {
    inner: R,
    until: Instant,
    /// Bytes read so far.
    pub(super) read: u64,
}

impl<R> Metered<R> {
    pub(super) fn new(inner: R, until: Instant) -> Self {
        Self {
            inner,
            until,
            read: 0,
        }
    }
}

/// The `io::Error` a [`Metered`] reader fails with when its time is up.
const OUT_OF_TIME: &str = "the time for reading spreadsheets is spent";

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() >= self.until {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                OUT_OF_TIME,
            ));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// An error from a read through [`Metered`]: [`SheetError::TooSlow`] when its time ran out,
/// else the file is unreadable.
pub(super) fn read_failed(err: impl std::fmt::Display) -> SheetError {
    let text = err.to_string();
    if text.contains(OUT_OF_TIME) {
        SheetError::TooSlow
    } else {
        SheetError::Unreadable(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metered_reader_stops_when_the_time_is_spent() {
        let mut past = Metered::new(&b"data"[..], Instant::now() - Duration::from_millis(1));
        let err = past.read(&mut [0; 4]).unwrap_err();
        assert_eq!(read_failed(err), SheetError::TooSlow);
        let mut open = Metered::new(&b"data"[..], Instant::now() + Duration::from_secs(60));
        assert_eq!(open.read(&mut [0; 8]).unwrap(), 4);
        assert_eq!(open.read, 4);
    }

    #[test]
    fn the_budget_is_spent_by_every_charge() {
        let mut budget = Budget::new(Instant::now() + Duration::from_secs(60));
        assert!(budget.charge(MAX_XML_READ - 1).is_ok());
        assert!(budget.charge(1).is_ok());
        assert!(matches!(budget.charge(1), Err(SheetError::TooLarge(_))));
    }
}
