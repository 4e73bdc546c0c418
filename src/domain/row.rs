//! Where a row is: which list of the request, and which line of it.

/// Where a row is: which list of the request and which line of it.
///
/// Ordered by list, then line: the order rows are read, published and reported in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowPosition {
    /// The list, 0-based, in the order the email carries them.
    pub file: u32,
    /// The line in that list (the header is line 1).
    pub line: u32,
}

/// The ledger stores a position as one number, `file x LEDGER_FILE_BASE + line`, which keeps
/// the order and stays readable in the item. No list has a billion lines: the email would be
/// larger than `MAX_OBJECT_BYTES`.
const LEDGER_FILE_BASE: u64 = 1_000_000_000;

impl RowPosition {
    /// Line `line` of list `file` (counts past `u32::MAX` are held at it).
    pub fn new(file: usize, line: u64) -> Self {
        Self {
            file: u32::try_from(file).unwrap_or(u32::MAX),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        }
    }

    /// The line after this one.
    pub fn next(self) -> Self {
        Self {
            line: self.line.saturating_add(1),
            ..self
        }
    }

    /// The number the ledger item stores.
    pub fn to_ledger(self) -> u64 {
        u64::from(self.file) * LEDGER_FILE_BASE + u64::from(self.line)
    }

    /// Reads back what [`RowPosition::to_ledger`] stored.
    pub fn from_ledger(stored: u64) -> Self {
        Self::new(
            (stored / LEDGER_FILE_BASE) as usize,
            stored % LEDGER_FILE_BASE,
        )
    }
}
