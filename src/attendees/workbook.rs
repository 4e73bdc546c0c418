//! What a spreadsheet holds, checked before calamine reads it, and charged to the request's
//! spreadsheet [`Budget`].
//!
//! Threat: a workbook is a zip of XML that declares its own sizes, and calamine trusts some of
//! them: it reserves `<sst uniqueCount>` strings before reading one, re-reads a worksheet part
//! for every `<sheet>` that names it, probes an OLE header in front of a zip without end, and
//! expands `.ods` repeats. An attachment of a few kilobytes can so ask for terabytes or loop
//! forever. Every such count is checked here against a limit before the library sees the file,
//! the way the library reads it (entities unescaped, every valued cell counted), and every byte
//! of XML any pass decompresses is charged to one [`Budget`] per request, which also carries
//! the time the reading may take.
//!
//! Invariants: nothing reaches calamine that does not start as a zip; a workbook holds at most
//! [`MAX_ZIP_ENTRIES`] files and [`MAX_XML_BYTES`] of XML, at most [`MAX_SHEETS`] sheets, each
//! naming its own part, and at most [`MAX_SHARED_STRINGS`] shared strings, declared or real;
//! an `.ods` sheet's used area, repeats counted, holds at most [`MAX_CELLS`] cells; all the
//! request's spreadsheets together decompress at most
//! [`super::budget::MAX_XML_READ`] and stop at the budget's time.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};

use super::budget::{Budget, Metered, read_failed};
use super::sheets::SheetError;

/// Most bytes of XML one workbook may hold, all its files together.
pub const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;
/// Most files inside one workbook (a spreadsheet of a few sheets has a dozen or two).
pub const MAX_ZIP_ENTRIES: usize = 1_000;
/// Most sheets one workbook may have.
pub const MAX_SHEETS: usize = 100;
/// Most shared strings an `.xlsx` may declare or hold: the library keeps one `String` each.
pub const MAX_SHARED_STRINGS: u64 = 1_000_000;
/// Most cells (rows x columns of the used area) an `.ods` workbook may have.
pub const MAX_CELLS: u64 = 1_000_000;
/// The zip signature every `.xlsx` and `.ods` starts with.
const ZIP: &[u8] = b"PK\x03\x04";
/// The signature of an OLE compound file: an `.xls`, or an `.xlsx` Office encrypted.
const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// What a workbook's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signature {
    /// A zip: `.xlsx`, `.ods`.
    Zip,
    /// An OLE compound file: `.xls`, or an `.xlsx` Office encrypted.
    Ole,
}

/// The signature `bytes` start with, if any.
pub(super) fn signature(bytes: &[u8]) -> Option<Signature> {
    if bytes.starts_with(ZIP) {
        Some(Signature::Zip)
    } else if bytes.starts_with(OLE) {
        Some(Signature::Ole)
    } else {
        None
    }
}

/// Refuses a file that does not start as the zip it claims to be.
pub(super) fn check_signature(bytes: &[u8]) -> Result<(), SheetError> {
    match signature(bytes) {
        Some(Signature::Zip) => Ok(()),
        Some(Signature::Ole) => Err(SheetError::Protected),
        None => Err(SheetError::NotAWorkbook),
    }
}

/// What a workbook holds, from one pass over every file inside.
#[derive(Debug, Default)]
pub(super) struct Inventory {
    /// Decompressed size of each file, by name.
    pub(super) sizes: HashMap<String, u64>,
    /// For each sheet of an `.xlsx` (by its name), the file it is read from, when known.
    pub(super) sheet_parts: HashMap<String, String>,
}

impl Inventory {
    /// Bytes of XML in all the workbook's files.
    pub(super) fn total(&self) -> u64 {
        self.sizes.values().sum()
    }

    /// The size of the file the sheet `name` is read from; the largest file when it is not
    /// known, so a sheet is never charged less than it costs.
    pub(super) fn sheet_size(&self, name: &str) -> u64 {
        self.sheet_parts
            .get(name)
            .and_then(|part| self.sizes.get(part))
            .copied()
            .unwrap_or_else(|| self.sizes.values().copied().max().unwrap_or(0))
    }
}

/// Decompresses every file of the zip once, counting, within `budget`, and checks the counts
/// an `.xlsx` declares (sheets, shared strings) on the way.
pub(super) fn inventory(bytes: &[u8], budget: &mut Budget) -> Result<Inventory, SheetError> {
    check_signature(bytes)?;
    if declared_entries(bytes).is_some_and(|n| n > MAX_ZIP_ENTRIES) {
        return Err(SheetError::TooLarge("more than 1,000 files inside"));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable_zip)?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(SheetError::TooLarge("more than 1,000 files inside"));
    }
    let mut inventory = Inventory::default();
    let (mut sheets, mut relations) = (Vec::new(), HashMap::new());
    let mut total = 0u64;
    for index in 0..zip.len() {
        budget.check_time()?;
        let entry = zip.by_index(index).map_err(unreadable_zip)?;
        let name = entry.name().to_string();
        // Never more than what is left of either limit, plus one byte to see it overflow.
        let left = (MAX_XML_BYTES - total).min(budget.xml_bytes);
        let mut reader = Metered::new(entry.take(left + 1), budget.until());
        let file = name.rsplit('/').next().unwrap_or_default();
        if file == "sharedStrings.xml" {
            check_shared_strings(&mut reader)?;
        } else if name.ends_with("workbook.xml") {
            sheets = sheet_relations(&mut reader)?;
        } else if name.ends_with("workbook.xml.rels") {
            relations = relation_targets(&mut reader)?;
        }
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(read_failed)?;
        // What was read is spent, refused or not: the next workbook must not read it again.
        budget.xml_bytes = budget.xml_bytes.saturating_sub(reader.read);
        if reader.read > left {
            return Err(if left < MAX_XML_BYTES - total {
                SheetError::TooLarge(
                    "more than 160 MB of data to read in the request's spreadsheets",
                )
            } else {
                SheetError::TooLarge("more than 64 MB of data inside")
            });
        }
        total += reader.read;
        inventory.sizes.insert(name, reader.read);
    }
    if sheets.len() > MAX_SHEETS {
        return Err(SheetError::TooLarge("more than 100 sheets"));
    }
    for (sheet, relation) in sheets {
        if let Some(target) = relations.get(&relation) {
            inventory.sheet_parts.insert(sheet, part_path(target));
        }
    }
    let mut parts: Vec<&String> = inventory.sheet_parts.values().collect();
    parts.sort();
    if parts.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(SheetError::Unreadable(
            "two sheets name the same part".into(),
        ));
    }
    Ok(inventory)
}

fn unreadable_zip(err: zip::result::ZipError) -> SheetError {
    match err {
        zip::result::ZipError::UnsupportedArchive(what) if what.contains("ncrypt") => {
            SheetError::Protected
        }
        other => read_failed(other),
    }
}

/// The file count the zip's end-of-central-directory record declares, read before the zip
/// library allocates for it. `None` when the record is not found (the library then refuses).
fn declared_entries(bytes: &[u8]) -> Option<usize> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let tail_start = bytes.len().saturating_sub(22 + u16::MAX as usize);
    let at = bytes[tail_start..]
        .windows(4)
        .rposition(|w| w == EOCD)
        .map(|i| tail_start + i)?;
    let field = bytes.get(at + 10..at + 12)?;
    let declared = u16::from_le_bytes([field[0], field[1]]);
    // 0xFFFF: the real count is in a ZIP64 record, and may be anything.
    Some(if declared == u16::MAX {
        usize::MAX
    } else {
        declared.into()
    })
}

/// An attribute's value as the library reads it: entities and character references unescaped.
fn attribute(
    element: &BytesStart<'_>,
    name: &[u8],
    decoder: quick_xml::encoding::Decoder,
) -> Result<Option<String>, SheetError> {
    let Some(attr) = element
        .try_get_attribute(name)
        .map_err(|err| SheetError::Unreadable(err.to_string()))?
    else {
        return Ok(None);
    };
    attr.decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, decoder)
        .map(|value| Some(value.into_owned()))
        .map_err(|err| SheetError::Unreadable(err.to_string()))
}

/// Refuses a shared-strings table that declares or holds more than [`MAX_SHARED_STRINGS`].
fn check_shared_strings(reader: impl Read) -> Result<(), SheetError> {
    let too_many = || SheetError::TooLarge("more than 1,000,000 shared strings");
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(reader));
    let mut buf = Vec::new();
    let mut strings = 0u64;
    loop {
        match xml.read_event_into(&mut buf).map_err(read_failed)? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"sst" => {
                    // The library reserves what the raw value says, before reading a string.
                    let raw = e
                        .try_get_attribute(b"uniqueCount")
                        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
                    if let Some(raw) = raw {
                        let declared = std::str::from_utf8(&raw.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<u128>().ok());
                        if declared.is_some_and(|n| n > u128::from(MAX_SHARED_STRINGS)) {
                            return Err(too_many());
                        }
                    }
                }
                b"si" => {
                    strings += 1;
                    if strings > MAX_SHARED_STRINGS {
                        return Err(too_many());
                    }
                }
                _ => {}
            },
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// The sheets `xl/workbook.xml` lists, each with its relationship id, in order; refused past
/// [`MAX_SHEETS`] while reading.
fn sheet_relations(reader: impl Read) -> Result<Vec<(String, String)>, SheetError> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(reader));
    let mut buf = Vec::new();
    let mut sheets = Vec::new();
    loop {
        match xml.read_event_into(&mut buf).map_err(read_failed)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"sheet" => {
                if sheets.len() == MAX_SHEETS {
                    return Err(SheetError::TooLarge("more than 100 sheets"));
                }
                let name = attribute(&e, b"name", xml.decoder())?.unwrap_or_default();
                let relation = attribute(&e, b"r:id", xml.decoder())?.unwrap_or_default();
                sheets.push((name, relation));
            }
            Event::Eof => return Ok(sheets),
            _ => {}
        }
        buf.clear();
    }
}

/// Relationship id to target, from `xl/_rels/workbook.xml.rels`.
fn relation_targets(reader: impl Read) -> Result<HashMap<String, String>, SheetError> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(reader));
    let mut buf = Vec::new();
    let mut targets = HashMap::new();
    loop {
        match xml.read_event_into(&mut buf).map_err(read_failed)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Relationship" => {
                if targets.len() > MAX_ZIP_ENTRIES {
                    return Err(SheetError::TooLarge("more than 1,000 files inside"));
                }
                let decoder = xml.decoder();
                if let (Some(id), Some(target)) = (
                    attribute(&e, b"Id", decoder)?,
                    attribute(&e, b"Target", decoder)?,
                ) {
                    targets.insert(id, target);
                }
            }
            Event::Eof => return Ok(targets),
            _ => {}
        }
        buf.clear();
    }
}

/// The zip path of a relationship target of `xl/workbook.xml`: relative to `xl/`, or absolute.
fn part_path(target: &str) -> String {
    match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    }
}

/// Scans an `.ods`'s `content.xml` as the library will read it, and refuses a workbook whose
/// sheets' used areas (repeats counted) hold more than [`MAX_CELLS`] cells.
///
/// Attributes are read unescaped (`&#49;500` is 1,500), and a cell counts as holding a value
/// when the library could give it one: any `office:` value or value type, a formula, or
/// content.
pub(super) fn check_ods_area(
    bytes: &[u8],
    measured_size: Option<u64>,
    budget: &mut Budget,
) -> Result<(), SheetError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable_zip)?;
    let content = zip.by_name("content.xml").map_err(unreadable_zip)?;
    // What the file really holds was measured by the inventory; its header may say less.
    budget.charge(measured_size.unwrap_or(MAX_XML_BYTES))?;
    let reader = Metered::new(content.take(MAX_XML_BYTES), budget.until());
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(reader));
    let mut buf = Vec::new();
    let too_large = || SheetError::TooLarge("more than 1,000,000 cells in use");
    let decoder = xml.decoder();
    let count = |e: &BytesStart<'_>, name: &[u8]| -> Result<u64, SheetError> {
        match attribute(e, name, decoder)? {
            None => Ok(1),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map_err(|_| SheetError::Unreadable(format!("a repeat count of {value:?}"))),
        }
    };
    // Per sheet: rows so far (repeats counted), the last row with a value, the widest row.
    let (mut rows, mut last_row, mut widest, mut pushed) = (0u64, 0u64, 0u64, 0u64);
    let (mut row_repeats, mut column, mut row_width) = (1u64, 0u64, 0u64);
    let mut total = 0u64;
    loop {
        let event = xml.read_event_into(&mut buf).map_err(read_failed)?;
        match &event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"table" => (rows, last_row, widest) = (0, 0, 0),
                b"table-row" if matches!(event, Event::Empty(_)) => {
                    rows = rows.saturating_add(count(e, b"table:number-rows-repeated")?);
                }
                b"table-row" => {
                    row_repeats = count(e, b"table:number-rows-repeated")?;
                    (column, row_width) = (0, 0);
                }
                b"table-cell" | b"covered-table-cell" => {
                    let repeats = count(e, b"table:number-columns-repeated")?.min(16_384);
                    column += repeats;
                    if matches!(event, Event::Start(_)) || has_value(e) {
                        row_width = column;
                    }
                }
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"table-row" => {
                    rows = rows.saturating_add(row_repeats);
                    if row_width > 0 {
                        last_row = rows;
                        widest = widest.max(row_width);
                        // The library keeps each row element's cells, then expands the repeats.
                        pushed = pushed.saturating_add(row_width);
                    }
                    if pushed > MAX_CELLS || last_row.saturating_mul(widest) > MAX_CELLS {
                        return Err(too_large());
                    }
                }
                b"table" => {
                    total = total.saturating_add(last_row.saturating_mul(widest));
                    if total > MAX_CELLS {
                        return Err(too_large());
                    }
                }
                _ => {}
            },
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// True when a cell element carries something the library reads as a value.
fn has_value(cell: &BytesStart<'_>) -> bool {
    cell.attributes().flatten().any(|attr| {
        let name = attr.key.as_ref();
        name.starts_with(b"office:") || name == b"table:formula"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_zip_goes_further() {
        assert_eq!(check_signature(b"PK\x03\x04rest"), Ok(()));
        let ole = [OLE, b"PK\x03\x04"].concat();
        assert_eq!(check_signature(&ole), Err(SheetError::Protected));
        assert_eq!(
            check_signature(b"uid,email\n"),
            Err(SheetError::NotAWorkbook)
        );
    }

    #[test]
    fn the_declared_file_count_is_read_from_the_end_record() {
        let mut zip = b"PK\x03\x04 data ".to_vec();
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x07\0\x07\0");
        zip.extend_from_slice(&[0; 10]);
        assert_eq!(declared_entries(&zip), Some(7));
        let len = zip.len();
        zip[len - 12..len - 10].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(declared_entries(&zip), Some(usize::MAX));
        assert_eq!(declared_entries(b"no record"), None);
    }

    #[test]
    fn relationship_targets_resolve_from_xl() {
        assert_eq!(
            part_path("worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(part_path("/xl/worksheets/a.xml"), "xl/worksheets/a.xml");
    }

    #[test]
    fn a_huge_declared_or_real_shared_string_count_is_refused() {
        for declared in ["99999999999", "18446744073709551615", "1000001"] {
            let xml = format!("<sst uniqueCount=\"{declared}\"><si><t>a</t></si></sst>");
            assert_eq!(
                check_shared_strings(xml.as_bytes()),
                Err(SheetError::TooLarge("more than 1,000,000 shared strings")),
                "{declared}"
            );
        }
        let ok = "<sst count=\"2\" uniqueCount=\"2\"><si><t>a</t></si><si><t/></si></sst>";
        assert_eq!(check_shared_strings(ok.as_bytes()), Ok(()));
    }
}
