//! Excel 97-2003 workbooks (`.xls`): checked, costed and cleaned before calamine reads them.
//!
//! An `.xls` is an OLE compound file (a small file system of sectors and chains) holding a
//! `Workbook` stream of BIFF records: first the workbook's globals (string table, formats,
//! where each sheet starts), then each sheet's cells.
//!
//! Threat: calamine reads the whole workbook when it opens it, trusting what the file
//! declares. Its container reader reserves the FAT size the header states and follows sector
//! chains without checking for loops; its BIFF reader builds every sheet at once as a dense
//! rectangle from the top-left to the bottom-right cell (one cell at row 65,536 and column
//! 65,535 is four billion cells), reserves the area a `DIMENSIONS` record states, copies a
//! shared string once per cell that names it (a 10-byte record can so cost 190 KB), reserves
//! the length a string declares before reading it, and indexes some records without checking
//! their length. A few kilobytes can so ask for terabytes or abort the process.
//!
//! Defence, in order, before calamine sees a byte:
//! 1. The container is opened by the `cfb` crate, which checks every chain against the file's
//!    size and refuses loops, and only the workbook stream comes out, at most
//!    [`MAX_STREAM_BYTES`], charged to the request's [`Budget`].
//! 2. The stream is copied keeping only the records that carry values ([`KEPT`]): the parsers
//!    of names, external references, merged cells, dimensions, drawings and formula
//!    expressions never run on the sender's bytes. A formula keeps its cached value and loses
//!    its expression (only values are read). Each sheet's start is moved to its place in the
//!    copy; a start that is not a record of the stream is refused.
//! 3. The copy is walked the way calamine walks it, and what calamine will allocate for it
//!    (cells, each sheet's rectangle, its strings, the shared strings and their copies, and
//!    the copy of a sheet a caller gets) is added up against [`MAX_MEMORY`]; a shape calamine
//!    would index past a record's end is refused.
//! 4. calamine reads a new compound file, written by the `cfb` crate, holding only the copy.
//!
//! Invariants: calamine never reads a container this module did not write; what it allocates
//! for a workbook stays under [`MAX_MEMORY`] (the model counts each allocation at least at
//! its size; a property test pins the shared-string walk to calamine's); all the walking is
//! charged to the request's [`Budget`] and stops at its time.
//!
//! Chosen: strings are read as Excel 97 and later store them (UTF-16, code page 1200); the
//! code page a workbook declares is dropped, so an Excel 5/95 workbook's accented letters are
//! read as Latin-1 (emails are ASCII either way).

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::mem::size_of;

use calamine::{Cell, Data};

use super::budget::Budget;
use super::sheets::SheetError;

/// Most bytes of BIFF records one workbook may hold. A full Excel 97 sheet of 65,536 rows of
/// five text columns is about 12 MB.
pub const MAX_STREAM_BYTES: u64 = 20 * 1024 * 1024;
/// Most bytes calamine may allocate for one workbook, by this module's model.
pub const MAX_MEMORY: u64 = 112 * 1024 * 1024;

/// BIFF record types (MS-XLS 2.3).
mod rt {
    pub const EOF: u16 = 0x000A;
    pub const FORMULA: u16 = 0x0006;
    pub const DATE_MODE: u16 = 0x0022;
    pub const FILE_PASS: u16 = 0x002F;
    pub const CONTINUE: u16 = 0x003C;
    pub const BOUND_SHEET: u16 = 0x0085;
    pub const MUL_RK: u16 = 0x00BD;
    pub const RSTRING: u16 = 0x00D6;
    pub const XF: u16 = 0x00E0;
    pub const SST: u16 = 0x00FC;
    pub const LABEL_SST: u16 = 0x00FD;
    pub const NUMBER: u16 = 0x0203;
    pub const LABEL: u16 = 0x0204;
    pub const BOOL_ERR: u16 = 0x0205;
    pub const STRING: u16 = 0x0207;
    pub const RK: u16 = 0x027E;
    pub const FORMAT: u16 = 0x041E;
    pub const BOF: u16 = 0x0809;
}

/// The records the copy keeps, with the `CONTINUE` records that follow them: what calamine
/// needs to give each cell's value (its number format, the date system, the shared strings,
/// where each sheet starts). Everything else is dropped.
pub const KEPT: [u16; 17] = [
    rt::BOF,
    rt::EOF,
    rt::DATE_MODE,
    rt::FORMAT,
    rt::XF,
    rt::BOUND_SHEET,
    rt::SST,
    rt::NUMBER,
    rt::LABEL,
    rt::RSTRING,
    rt::BOOL_ERR,
    rt::STRING,
    rt::RK,
    rt::LABEL_SST,
    rt::MUL_RK,
    rt::FORMULA,
    rt::CONTINUE,
];

/// Where a formula's expression starts in its record: row, column, format, cached value
/// (8 bytes), flags and a reserved field come first.
const FORMULA_VALUE_END: usize = 20;
/// Most sheets one workbook may have.
const MAX_SHEETS: usize = super::workbook::MAX_SHEETS;

/// The `.xls` in `bytes`, as a compound file calamine may read, within `budget`.
pub(super) fn clean_copy(bytes: &[u8], budget: &mut Budget) -> Result<Vec<u8>, SheetError> {
    let stream = workbook_stream(bytes, budget)?;
    budget.check_time()?;
    let copy = kept_records(&stream)?;
    drop(stream);
    let cost = cost(&copy, budget)?;
    if cost > MAX_MEMORY {
        return Err(SheetError::TooLarge("more than 112 MB to hold in memory"));
    }
    container(&copy)
}

/// The BIFF stream of the compound file in `bytes`.
fn workbook_stream(bytes: &[u8], budget: &mut Budget) -> Result<Vec<u8>, SheetError> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes))
        .map_err(|err| SheetError::Unreadable(format!("not an Excel 97-2003 workbook: {err}")))?;
    // Names in a compound file compare without case: `BOOK` is `Book` (Excel 5/95).
    let Some(path) = ["/Workbook", "/Book"]
        .into_iter()
        .find(|path| file.is_stream(path))
    else {
        return Err(if file.is_stream("/EncryptedPackage") {
            SheetError::Protected
        } else {
            SheetError::Unreadable("no workbook inside".into())
        });
    };
    let stream = file
        .open_stream(path)
        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
    let limit = MAX_STREAM_BYTES.min(budget.xml_bytes);
    let mut out = Vec::new();
    stream
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
    if out.len() as u64 > MAX_STREAM_BYTES {
        return Err(SheetError::TooLarge("more than 20 MB of workbook data"));
    }
    budget.charge(out.len() as u64)?;
    Ok(out)
}

/// One BIFF record: its type, its data, and where it starts in its stream.
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    at: usize,
    typ: u16,
    data: &'a [u8],
}

/// The records of `stream` from its start, as calamine splits them; a record cut short ends
/// the walk (calamine stops there with an error).
fn records(stream: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = stream.get(at..)?;
        if rest.len() < 4 {
            return None;
        }
        let typ = u16_at(rest, 0);
        let len = u16_at(rest, 2) as usize;
        let data = rest.get(4..4 + len)?;
        let record = Record { at, typ, data };
        at += 4 + len;
        Some(record)
    })
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// `stream` with only the [`KEPT`] records, formulas cut to their cached value, and each
/// sheet's start moved to where its first record now is.
fn kept_records(stream: &[u8]) -> Result<Vec<u8>, SheetError> {
    // Where each sheet starts in the stream, and, once copied, in the copy: one entry a sheet,
    // not one a record, whatever the stream holds.
    let mut moved: BTreeMap<usize, Option<usize>> = sheet_starts(stream)?
        .into_iter()
        .map(|start| (start, None))
        .collect();
    let mut copy = Vec::with_capacity(stream.len());
    // (where a sheet's start is written in the copy, where it starts in the stream)
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut keeping = false;
    for record in records(stream) {
        if record.typ == rt::FILE_PASS {
            return Err(SheetError::Protected);
        }
        keeping = if record.typ == rt::CONTINUE {
            keeping
        } else {
            KEPT.contains(&record.typ)
        };
        if !keeping {
            continue;
        }
        let (data, tail): (&[u8], &[u8]) = match record.typ {
            rt::BOF if record.data.len() < 2 => return Err(damaged("a sheet's first record")),
            rt::DATE_MODE if record.data.len() < 2 => return Err(damaged("the date system")),
            rt::MUL_RK if !mul_rk_is_whole(record.data) => {
                return Err(damaged("a row of numbers"));
            }
            rt::BOUND_SHEET => {
                fields.push((copy.len() + 4, u32_at(record.data, 0) as usize));
                (record.data, &[])
            }
            // The cached value stays; the expression becomes an empty one (its length 0).
            rt::FORMULA if record.data.len() >= FORMULA_VALUE_END => {
                (&record.data[..FORMULA_VALUE_END], &[0, 0])
            }
            _ => (record.data, &[]),
        };
        if let Some(at) = moved.get_mut(&record.at) {
            *at = Some(copy.len());
        }
        copy.extend_from_slice(&record.typ.to_le_bytes());
        copy.extend_from_slice(&((data.len() + tail.len()) as u16).to_le_bytes());
        copy.extend_from_slice(data);
        copy.extend_from_slice(tail);
    }
    for (field, start) in fields {
        let to = moved
            .get(&start)
            .copied()
            .flatten()
            .ok_or_else(|| damaged("where a sheet starts"))?;
        copy[field..field + 4].copy_from_slice(&(to as u32).to_le_bytes());
    }
    Ok(copy)
}

/// Where the workbook says each sheet starts in `stream`, at most [`MAX_SHEETS`]; a list of
/// sheets calamine would read past the end of is refused.
fn sheet_starts(stream: &[u8]) -> Result<Vec<usize>, SheetError> {
    let mut starts = Vec::new();
    for record in records(stream).filter(|r| r.typ == rt::BOUND_SHEET) {
        // calamine reads the start, two flag bytes and a name of at least two bytes.
        if record.data.len() < 8 {
            return Err(damaged("the list of sheets"));
        }
        if starts.len() == MAX_SHEETS {
            return Err(SheetError::TooLarge("more than 100 sheets"));
        }
        starts.push(u32_at(record.data, 0) as usize);
    }
    Ok(starts)
}

/// A `MulRk` record calamine reads without running past its end: row, first column, whole
/// six-byte values, last column not before the first.
fn mul_rk_is_whole(data: &[u8]) -> bool {
    data.len() >= 6 && (data.len() - 6).is_multiple_of(6) && {
        let first = u16_at(data, 2);
        let last = u16_at(data, data.len() - 2);
        last >= first && (last - first) as usize + 1 == (data.len() - 6) / 6
    }
}

fn damaged(what: &str) -> SheetError {
    SheetError::Unreadable(format!("{what} is damaged"))
}

/// A cell's row and column.
type Position = (u32, u32);

/// The rectangle calamine allocates for a sheet: from the smallest to the largest row and
/// column any of its cells has.
#[derive(Debug, Default, Clone, Copy)]
struct Area(Option<(Position, Position)>);

impl Area {
    fn add(&mut self, (row, column): Position) {
        self.0 = Some(match self.0 {
            None => ((row, column), (row, column)),
            Some(((r0, c0), (r1, c1))) => {
                ((r0.min(row), c0.min(column)), (r1.max(row), c1.max(column)))
            }
        });
    }

    fn cells(&self) -> u64 {
        self.0.map_or(0, |((r0, c0), (r1, c1))| {
            (u64::from(r1 - r0) + 1) * (u64::from(c1 - c0) + 1)
        })
    }
}

/// What calamine allocates for one sheet.
#[derive(Debug, Default)]
struct SheetCost {
    cells: u64,
    area: Area,
    formulas: u64,
    formula_area: Area,
    strings: u64,
}

impl SheetCost {
    /// Bytes: the cells as read (a vector that may double), the rectangle of values and its
    /// copy for the caller, the strings (and their copies), the formulas' rectangle and text.
    fn bytes(&self) -> u64 {
        let cell = size_of::<Cell<Data>>() as u64;
        let value = size_of::<Data>() as u64;
        let formula = size_of::<Cell<String>>() as u64;
        let text = size_of::<String>() as u64;
        2 * self.cells * cell
            + 2 * self.area.cells() * value
            + 2 * self.strings
            + 2 * self.formulas * formula
            + self.formula_area.cells() * text
            + self.formulas * UNREAD_FORMULA_TEXT
    }
}

/// Most bytes of the text calamine writes for a formula whose expression was cut ("Unrecognised
/// formula for cell (row, col): ...").
const UNREAD_FORMULA_TEXT: u64 = 128;
/// Most bytes of UTF-8 one UTF-16 code unit or Latin-1 byte becomes.
const UTF8_PER_CHAR: u64 = 3;

/// Bytes calamine allocates reading `copy`, walking it as calamine does: the globals up to
/// their end, then each sheet from its start to its end. Every byte walked is charged.
fn cost(copy: &[u8], budget: &mut Budget) -> Result<u64, SheetError> {
    let mut total = 0u64;
    let mut shared: Vec<SharedString> = Vec::new();
    let mut starts = Vec::new();
    let mut walked = 0u64;
    for record in records(copy) {
        walked = (record.at + 4 + record.data.len()) as u64;
        match record.typ {
            rt::EOF => break,
            rt::BOUND_SHEET => starts.push(u32_at(record.data, 0) as usize),
            rt::SST => {
                shared = shared_strings(copy, record)?;
                total += shared.iter().map(|s| s.held()).sum::<u64>();
            }
            _ => {}
        }
    }
    budget.charge(walked)?;
    for start in starts {
        budget.check_time()?;
        let sheet = sheet_cost(&copy[start..], &shared);
        budget.charge(sheet.walked)?;
        total = total.saturating_add(sheet.cost.bytes());
        if total > MAX_MEMORY {
            break;
        }
    }
    Ok(total)
}

/// A sheet's cost, and how many bytes of records were walked to know it.
struct Walked {
    cost: SheetCost,
    walked: u64,
}

fn sheet_cost(records_from: &[u8], shared: &[SharedString]) -> Walked {
    let mut cost = SheetCost::default();
    let mut formula_at: Position = (0, 0);
    let mut walked = 0u64;
    for record in records(records_from) {
        walked = (record.at + 4 + record.data.len()) as u64;
        let data = record.data;
        let position = || (u32::from(u16_at(data, 0)), u32::from(u16_at(data, 2)));
        match record.typ {
            rt::EOF => break,
            rt::NUMBER | rt::BOOL_ERR | rt::RK if data.len() >= 4 => {
                cost.cells += 1;
                cost.area.add(position());
            }
            rt::LABEL | rt::RSTRING if data.len() >= 4 => {
                cost.cells += 1;
                cost.area.add(position());
                if data.len() >= 8 {
                    cost.strings += declared_text(u16_at(data, 6));
                }
            }
            rt::LABEL_SST if data.len() >= 10 => {
                if let Some(text) = shared.get(u32_at(data, 6) as usize) {
                    cost.cells += 1;
                    cost.area.add(position());
                    cost.strings += text.copied();
                }
            }
            rt::STRING if data.len() >= 2 => {
                cost.cells += 1;
                cost.area.add(formula_at);
                cost.strings += declared_text(u16_at(data, 0));
            }
            rt::MUL_RK => {
                let (row, first) = position();
                let count = (data.len() - 6) / 6;
                cost.cells += count as u64;
                cost.area.add((row, first));
                cost.area.add((row, first + count as u32 - 1));
            }
            rt::FORMULA if data.len() >= FORMULA_VALUE_END => {
                formula_at = position();
                cost.cells += 1;
                cost.area.add(formula_at);
                cost.formulas += 1;
                cost.formula_area.add(formula_at);
            }
            _ => {}
        }
    }
    Walked { cost, walked }
}

/// Bytes a string that declares `chars` characters may take: calamine reserves them, and
/// each becomes at most [`UTF8_PER_CHAR`] bytes.
fn declared_text(chars: u16) -> u64 {
    u64::from(chars) * UTF8_PER_CHAR
}

/// One string of the shared-string table, as far as its cost goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SharedString {
    /// The characters it declares.
    chars: u16,
    /// True when its characters run on into a `CONTINUE` record (calamine's `String` may then
    /// grow twice).
    spans_records: bool,
}

impl SharedString {
    /// Bytes calamine holds for it in its table.
    fn held(&self) -> u64 {
        let grown = if self.spans_records { 2 } else { 1 };
        grown * declared_text(self.chars) + size_of::<String>() as u64
    }

    /// Bytes each cell naming it costs: an exact copy.
    fn copied(&self) -> u64 {
        declared_text(self.chars)
    }
}

/// The strings of the shared-string table `sst` (with the `CONTINUE` records after it in
/// `copy`), framed exactly as calamine frames them. A table calamine would read past a
/// record's end for is refused; one calamine fails on ends the list where calamine would stop.
fn shared_strings(copy: &[u8], sst: Record<'_>) -> Result<Vec<SharedString>, SheetError> {
    let mut parts = records(&copy[sst.at..])
        .skip(1)
        .take_while(|r| r.typ == rt::CONTINUE)
        .map(|r| r.data);
    let Some(mut data) = sst.data.get(8..) else {
        return Ok(Vec::new());
    };
    let mut strings = Vec::new();
    loop {
        if data.is_empty() {
            match parts.next() {
                Some(next) => data = next,
                None => break,
            }
            if data.is_empty() {
                strings.push(SharedString {
                    chars: 0,
                    spans_records: false,
                });
                continue;
            }
        }
        if data.len() < 3 {
            break;
        }
        let chars = u16_at(data, 0);
        let flags = data[2];
        data = &data[3..];
        let runs = if flags & 0x8 != 0 {
            let runs = data.get(..2).ok_or_else(|| damaged("the shared strings"))?;
            data = &data[2..];
            usize::from(u16_at(runs, 0))
        } else {
            0
        };
        let extra = if flags & 0x4 != 0 {
            let extra = data.get(..4).ok_or_else(|| damaged("the shared strings"))?;
            data = &data[4..];
            i32::from_le_bytes([extra[0], extra[1], extra[2], extra[3]]) as usize
        } else {
            0
        };
        let mut left = usize::from(chars);
        let mut wide = flags & 0x1 != 0;
        let mut spans_records = false;
        loop {
            let width = if wide { 2 } else { 1 };
            let taken = (data.len() / width).min(left);
            data = &data[taken * width..];
            left -= taken;
            if left == 0 {
                break;
            }
            let Some(next) = parts.next() else {
                return Ok(strings);
            };
            let (&flag, rest) = next
                .split_first()
                .ok_or_else(|| damaged("the shared strings"))?;
            wide = flag & 0x1 != 0;
            data = rest;
            spans_records = true;
        }
        strings.push(SharedString {
            chars,
            spans_records,
        });
        for mut skip in [runs.saturating_mul(4), extra] {
            while skip > 0 {
                if data.is_empty() {
                    match parts.next() {
                        Some(next) => data = next,
                        None => return Ok(strings),
                    }
                    continue;
                }
                let step = skip.min(data.len());
                data = &data[step..];
                skip -= step;
            }
        }
    }
    Ok(strings)
}

/// A compound file holding `stream` as its workbook, written by the `cfb` crate.
fn container(stream: &[u8]) -> Result<Vec<u8>, SheetError> {
    let write = || -> std::io::Result<Vec<u8>> {
        let mut file =
            cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))?;
        file.create_stream("/Workbook")?.write_all(stream)?;
        file.flush()?;
        Ok(file.into_inner().into_inner())
    };
    write().map_err(|err| SheetError::Unreadable(err.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attendees::sheets::{self, SheetKind};
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    /// A cell of a test workbook.
    #[derive(Debug, Clone)]
    pub(crate) enum TestCell {
        /// Text from the shared-string table (what Excel writes).
        Shared(u16, u16, String),
        /// Text in the cell's own record (what older writers do).
        Inline(u16, u16, String),
        Number(u16, u16, f64),
    }

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut out = typ.to_le_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn bof(sheet: bool) -> Vec<u8> {
        let mut data = vec![0x00, 0x06, if sheet { 0x10 } else { 0x05 }, 0x00];
        data.resize(16, 0);
        record(rt::BOF, &data)
    }

    /// An `XLUnicodeRichExtendedString` header and characters, compressed when every
    /// character fits in a byte.
    fn unicode(text: &str) -> (bool, Vec<u8>) {
        let units: Vec<u16> = text.encode_utf16().collect();
        let wide = units.iter().any(|u| *u > 0xFF);
        let chars = if wide {
            units.iter().flat_map(|u| u.to_le_bytes()).collect()
        } else {
            units.iter().map(|u| *u as u8).collect()
        };
        (wide, chars)
    }

    /// The SST record and its `CONTINUE`s for `strings`, records at most `max` bytes long:
    /// a string's header is never split, its characters are, each part after the first
    /// starting with its width flag, as Excel writes them.
    pub(crate) fn sst(strings: &[String], max: usize) -> Vec<u8> {
        let mut records: Vec<Vec<u8>> = vec![Vec::new()];
        let count = (strings.len() as u32).to_le_bytes();
        records[0].extend_from_slice(&count);
        records[0].extend_from_slice(&count);
        for text in strings {
            let (wide, chars) = unicode(text);
            let units = text.encode_utf16().count() as u16;
            if max - records.last().unwrap().len() < 3 + usize::from(wide) * 2 {
                records.push(Vec::new());
            }
            let current = records.last_mut().unwrap();
            current.extend_from_slice(&units.to_le_bytes());
            current.push(u8::from(wide));
            let width = if wide { 2 } else { 1 };
            let mut rest = &chars[..];
            loop {
                let current = records.last_mut().unwrap();
                let room = (max - current.len()) / width * width;
                let take = room.min(rest.len());
                current.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if rest.is_empty() {
                    break;
                }
                records.push(vec![u8::from(wide)]);
            }
        }
        let mut out = record(rt::SST, &records[0]);
        for part in &records[1..] {
            out.extend(record(rt::CONTINUE, part));
        }
        out
    }

    /// A BIFF8 workbook stream of `sheets`, shared strings in records of at most `max` bytes.
    pub(crate) fn stream(sheets: &[(&str, Vec<TestCell>)], max: usize) -> Vec<u8> {
        let mut strings: Vec<String> = Vec::new();
        let mut indexes = std::collections::HashMap::new();
        let mut bodies = Vec::new();
        for (_, cells) in sheets {
            let mut body = bof(true);
            for cell in cells {
                body.extend(match cell {
                    TestCell::Shared(row, col, text) => {
                        let index = *indexes.entry(text.clone()).or_insert_with(|| {
                            strings.push(text.clone());
                            strings.len() - 1
                        });
                        let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
                        data.extend_from_slice(&(index as u32).to_le_bytes());
                        record(rt::LABEL_SST, &data)
                    }
                    TestCell::Inline(row, col, text) => {
                        let (wide, chars) = unicode(text);
                        let units = text.encode_utf16().count() as u16;
                        let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
                        data.extend_from_slice(&units.to_le_bytes());
                        data.push(u8::from(wide));
                        data.extend(chars);
                        record(rt::LABEL, &data)
                    }
                    TestCell::Number(row, col, value) => {
                        let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
                        data.extend_from_slice(&value.to_le_bytes());
                        record(rt::NUMBER, &data)
                    }
                });
            }
            body.extend(record(rt::EOF, &[]));
            bodies.push(body);
        }
        let bound = |name: &str, at: u32| {
            let mut data = at.to_le_bytes().to_vec();
            data.extend_from_slice(&[0, 0, name.len() as u8, 0]);
            data.extend_from_slice(name.as_bytes());
            record(rt::BOUND_SHEET, &data)
        };
        let table = sst(&strings, max);
        let globals_len = bof(false).len()
            + sheets
                .iter()
                .map(|(name, _)| bound(name, 0).len())
                .sum::<usize>()
            + table.len()
            + 4;
        let mut out = bof(false);
        let mut at = globals_len;
        for ((name, _), body) in sheets.iter().zip(&bodies) {
            out.extend(bound(name, at as u32));
            at += body.len();
        }
        out.extend(table);
        out.extend(record(rt::EOF, &[]));
        for body in bodies {
            out.extend(body);
        }
        out
    }

    /// `stream` in a compound file, as Excel stores it.
    pub(crate) fn book(stream: &[u8]) -> Vec<u8> {
        container(stream).unwrap()
    }

    fn budget() -> Budget {
        Budget::new(Instant::now() + Duration::from_secs(60))
    }

    fn read(bytes: &[u8]) -> Result<Vec<sheets::SheetList>, SheetError> {
        sheets::read(bytes, "guests.xls", SheetKind::Xls, &mut budget(), false)
    }

    #[test]
    fn a_workbook_from_libreoffice_reads_as_its_ods_twin() {
        let xls = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xls").unwrap();
        let ods = std::fs::read("tests/fixtures/sheets/guests-libreoffice.ods").unwrap();
        let from_ods =
            sheets::read(&ods, "guests.xls", SheetKind::Ods, &mut budget(), false).unwrap();
        assert_eq!(read(&xls).unwrap(), from_ods);
        assert!(from_ods[0].text.contains("ann@example.com"), "{from_ods:?}");
    }

    #[test]
    fn title_rows_above_the_header_keep_the_rows_numbers() {
        let cells = vec![
            TestCell::Shared(0, 0, "Guest list".into()),
            TestCell::Inline(1, 0, "Exported 2026-11-30".into()),
            TestCell::Shared(3, 0, "uid".into()),
            TestCell::Shared(3, 1, "email".into()),
            TestCell::Shared(4, 0, "team-offsite".into()),
            TestCell::Inline(4, 1, "ann@example.com".into()),
            TestCell::Number(5, 0, 12345.0),
            TestCell::Shared(5, 1, "bob@example.com".into()),
        ];
        let lists = read(&book(&stream(&[("Guests", cells)], 8224))).unwrap();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].name, "guests.xls, sheet \"Guests\"");
        assert_eq!(
            lists[0].text,
            "Guest list\nExported 2026-11-30\n\nuid,email\nteam-offsite,ann@example.com\n\
             12345,bob@example.com\n"
        );
    }

    #[test]
    fn one_cell_in_the_far_corner_is_refused_before_calamine_builds_the_sheet() {
        let cells = vec![
            TestCell::Number(0, 0, 1.0),
            TestCell::Number(65_535, 65_535, 1.0),
        ];
        let bomb = book(&stream(&[("Sheet1", cells)], 8224));
        assert!(bomb.len() < 8 * 1024, "{}", bomb.len());
        assert_eq!(
            read(&bomb),
            Err(SheetError::TooLarge("more than 112 MB to hold in memory"))
        );
    }

    #[test]
    fn a_long_shared_string_named_by_many_cells_is_refused() {
        let long = "x".repeat(60_000);
        // calamine would copy the string 20,000 times: 1.2 GB from a 340 KB file.
        let cells = (0..20_000)
            .map(|row| TestCell::Shared(row, 0, long.clone()))
            .collect();
        let bomb = book(&stream(&[("Sheet1", cells)], 8224));
        assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
        assert_eq!(
            read(&bomb),
            Err(SheetError::TooLarge("more than 112 MB to hold in memory"))
        );
    }

    #[test]
    fn a_full_excel_97_sheet_of_guests_is_read() {
        let mut cells = vec![
            TestCell::Shared(0, 0, "uid".into()),
            TestCell::Shared(0, 1, "email".into()),
            TestCell::Shared(0, 2, "name".into()),
        ];
        for row in 1..=u16::MAX {
            cells.push(TestCell::Shared(row, 0, "team-offsite-2026".into()));
            cells.push(TestCell::Shared(
                row,
                1,
                format!("guest.{row:05}@example.com"),
            ));
            cells.push(TestCell::Shared(row, 2, format!("Guest Number {row:05}")));
        }
        let stream = stream(&[("Guests", cells)], 8224);
        let copy = kept_records(&stream).unwrap();
        let cost = cost(&copy, &mut budget()).unwrap();
        assert!(cost < MAX_MEMORY * 2 / 3, "{cost}");
        let lists = read(&book(&stream)).unwrap();
        assert_eq!(lists[0].text.lines().count(), 65_536);
        assert!(
            lists[0]
                .text
                .ends_with("guest.65535@example.com,Guest Number 65535\n")
        );
    }

    /// The 512-byte sectors of `file`, with every FAT entry that links two sectors made to
    /// point at its own sector: every chain becomes a loop.
    fn looped(mut file: Vec<u8>) -> Vec<u8> {
        assert_eq!(u16_at(&file, 30), 9, "512-byte sectors");
        let fat_sector = u32_at(&file, 76) as usize;
        let start = 512 * (fat_sector + 1);
        for (index, entry) in file[start..start + 512].chunks_mut(4).enumerate() {
            if u32_at(entry, 0) < 0xFFFF_FFFA {
                entry.copy_from_slice(&(index as u32).to_le_bytes());
            }
        }
        file
    }

    #[test]
    fn a_container_whose_chains_loop_is_refused_not_followed() {
        let xls = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xls").unwrap();
        let err = read(&looped(xls)).unwrap_err();
        assert!(matches!(err, SheetError::Unreadable(_)), "{err:?}");
    }

    #[test]
    fn a_password_protected_workbook_is_named_so() {
        let mut stream = stream(&[("Sheet1", vec![TestCell::Number(0, 0, 1.0)])], 8224);
        let bof_len = bof(false).len();
        let file_pass = record(rt::FILE_PASS, &[1, 0, 1, 0]);
        stream.splice(bof_len..bof_len, file_pass);
        // The sheet starts later by the inserted record; the workbook is refused before that
        // matters.
        assert_eq!(read(&book(&stream)), Err(SheetError::Protected));
    }

    #[test]
    fn a_sheet_that_starts_inside_a_record_is_refused() {
        let mut stream = stream(&[("Sheet1", vec![TestCell::Number(0, 0, 1.0)])], 8224);
        let bof_len = bof(false).len();
        let at = u32_at(&stream, bof_len + 4) + 2;
        stream[bof_len + 4..bof_len + 8].copy_from_slice(&at.to_le_bytes());
        assert_eq!(
            read(&book(&stream)),
            Err(SheetError::Unreadable(
                "where a sheet starts is damaged".into()
            ))
        );
    }

    #[test]
    fn a_formula_keeps_its_value_and_loses_its_expression() {
        let mut stream = stream(
            &[("Sheet1", vec![TestCell::Shared(0, 0, "uid".into())])],
            8224,
        );
        // Formula at B1 with a cached number and a 300-byte expression of name references.
        let mut data = [
            1u16.to_le_bytes(),
            0u16.to_le_bytes(),
            1u16.to_le_bytes(),
            [0, 0],
        ]
        .concat();
        data.truncate(4);
        data.extend_from_slice(&[0, 0]);
        data.extend_from_slice(&7.0f64.to_le_bytes());
        data.extend_from_slice(&[0; 6]);
        data.extend_from_slice(&300u16.to_le_bytes());
        data.extend(std::iter::repeat_n(0x23, 300));
        let formula = record(rt::FORMULA, &data);
        let eof = stream.len() - 4;
        stream.splice(eof..eof, formula.clone());
        let copy = kept_records(&stream).unwrap();
        let cut = records(&copy).find(|r| r.typ == rt::FORMULA).unwrap();
        assert_eq!(cut.data.len(), FORMULA_VALUE_END + 2);
        assert_eq!(&cut.data[..FORMULA_VALUE_END], &data[..FORMULA_VALUE_END]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The shared-string walk frames the table as calamine does, whatever the record
        /// size and the characters, and costs every copy at least at its size.
        #[test]
        fn shared_strings_are_framed_as_calamine_frames_them(
            strings in proptest::collection::vec("[a-z@.]{0,40}|[a-zé]{0,30}|[a-z☃]{0,20}", 1..40),
            max in 12usize..300,
        ) {
            let mut unique: Vec<String> = Vec::new();
            for s in strings {
                if !unique.contains(&s) {
                    unique.push(s);
                }
            }
            let cells: Vec<TestCell> = unique
                .iter()
                .enumerate()
                .map(|(row, text)| TestCell::Shared(row as u16, 0, text.clone()))
                .collect();
            let stream = stream(&[("Sheet1", cells)], max);
            let copy = kept_records(&stream).unwrap();
            let sst = records(&copy).find(|r| r.typ == rt::SST).unwrap();
            let framed = shared_strings(&copy, sst).unwrap();
            let chars: Vec<u16> = framed.iter().map(|s| s.chars).collect();
            let expected: Vec<u16> =
                unique.iter().map(|s| s.encode_utf16().count() as u16).collect();
            prop_assert_eq!(chars, expected);

            use calamine::{Reader, Xls};
            let mut workbook: Xls<_> = Xls::new(Cursor::new(container(&copy).unwrap())).unwrap();
            let range = workbook.worksheet_range("Sheet1").unwrap();
            for (row, text) in unique.iter().enumerate() {
                let value = range.get_value((row as u32, 0));
                if text.is_empty() {
                    prop_assert!(matches!(value, None | Some(Data::Empty) | Some(Data::String(_))));
                } else {
                    prop_assert_eq!(value, Some(&Data::String(text.clone())));
                    prop_assert!(framed[row].copied() >= text.len() as u64);
                }
            }
        }
    }
}
