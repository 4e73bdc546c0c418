//! Spreadsheets (`.xlsx` from Excel or Google Sheets, `.ods` from LibreOffice), read with
//! calamine into the same list text a CSV gives, so every row rule, limit and reason applies
//! unchanged.
//!
//! Each sheet whose first non-empty row names a `uid` and an `email` column becomes one list,
//! named `guests.xlsx, sheet "Sheet1"`; a sheet row is a line of that list, so row numbers are
//! the spreadsheet's own. Cells are written as their text: a date typed into a cell comes out
//! as `2026-05-01` (with the time when it has one), a whole number without `.0`, a text cell
//! exactly as typed. Line breaks inside a cell become spaces (a row stays a line).
//!
//! Threat: a spreadsheet is a zip of XML, small on the wire and huge inside. Memory stays
//! bounded whatever the file holds, checked while reading, before calamine builds anything:
//! - every zip entry is decompressed once into a counter first, and the workbook refused when
//!   the XML inside is larger than [`MAX_XML_BYTES`] (a zip bomb, or huge shared strings);
//! - `.xlsx` sheets are streamed cell by cell, and the list text of all the request's
//!   spreadsheets together refused past [`MAX_TEXT_BYTES`] (millions of empty rows, cells far
//!   to the right, many small attachments);
//! - `.ods` sheets, which calamine reads whole, are scanned first and refused when their used
//!   area (rows x columns, repeats counted) is larger than [`MAX_CELLS`].
//!
//! `.xls` (Excel 97-2003) and `.xlsb` are not read: calamine gives no way to bound their
//! memory before building the sheet (one cell at the far corner of an `.xls` makes a
//! 16-million-cell range). The organizer is asked to save as `.xlsx`, `.ods` or `.csv`.

use std::io::{Cursor, Read};

use calamine::{DataType, Ods, Reader, Xlsx};
use quick_xml::events::Event;

use crate::attendees::rows;

/// Most bytes of XML a workbook may hold, all entries together.
pub const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes of list text the spreadsheets of one request may make, all sheets together.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// Most cells (rows x columns of the used area) an `.ods` workbook may have.
pub const MAX_CELLS: u64 = 1_000_000;

/// A spreadsheet format the function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    /// Office Open XML (`.xlsx`): Excel, Google Sheets, Numbers' export.
    Xlsx,
    /// OpenDocument (`.ods`): LibreOffice, OpenOffice.
    Ods,
    /// A spreadsheet format that is not read (`.xls`, `.xlsb`); the organizer is told why.
    Unsupported,
}

impl SheetKind {
    /// The kind a file name or MIME subtype says, if it is a spreadsheet.
    pub fn of(file_name: Option<&str>, mime_subtype: &str) -> Option<Self> {
        let name = file_name.unwrap_or_default().trim().to_ascii_lowercase();
        let subtype = mime_subtype.to_ascii_lowercase();
        if name.ends_with(".xlsx")
            || subtype == "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        {
            Some(Self::Xlsx)
        } else if name.ends_with(".ods") || subtype == "vnd.oasis.opendocument.spreadsheet" {
            Some(Self::Ods)
        } else if name.ends_with(".xls")
            || name.ends_with(".xlsb")
            || subtype == "vnd.ms-excel.sheet.binary.macroenabled.12"
        {
            Some(Self::Unsupported)
        } else {
            None
        }
    }
}

/// One sheet read as a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetList {
    /// `guests.xlsx, sheet "Sheet1"`.
    pub name: String,
    /// The sheet as list text: one line per sheet row, comma separated.
    pub text: String,
}

/// Why a spreadsheet cannot be used. Reported to the organizer, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// `.xls` or `.xlsb`.
    #[error("this spreadsheet format is not read: save it as .xlsx, .ods or .csv")]
    Unsupported,
    /// Larger inside than the limits allow.
    #[error("the spreadsheet is too large to read ({0}): split it, or save it as .csv")]
    TooLarge(&'static str),
    /// Not a readable workbook (damaged, encrypted, not a zip).
    #[error("the spreadsheet could not be read ({0})")]
    Unreadable(String),
    /// No sheet's first row names a uid and an email column.
    #[error("no sheet has a header row with uid and email columns")]
    NoList,
}

/// Reads every sheet of `bytes` that holds a list.
///
/// `budget` is the list text the request's spreadsheets may still make, all of them together
/// (start it at [`MAX_TEXT_BYTES`]): many small attachments must not multiply the bound.
pub fn read(
    bytes: &[u8],
    file_name: &str,
    kind: SheetKind,
    budget: &mut usize,
) -> Result<Vec<SheetList>, SheetError> {
    let sheets = match kind {
        SheetKind::Unsupported => return Err(SheetError::Unsupported),
        SheetKind::Xlsx => {
            check_zip(bytes)?;
            read_xlsx(bytes, budget)?
        }
        SheetKind::Ods => {
            check_zip(bytes)?;
            read_ods(bytes, budget)?
        }
    };
    let lists: Vec<SheetList> = sheets
        .into_iter()
        .filter(|(_, text)| {
            let header = text
                .lines()
                .find(|line| !line.trim_matches([',', ' ']).is_empty());
            header.is_some_and(|line| rows::names_list_columns(line).is_some())
        })
        .map(|(sheet, text)| SheetList {
            name: format!("{file_name}, sheet \"{sheet}\""),
            text,
        })
        .collect();
    if lists.is_empty() {
        return Err(SheetError::NoList);
    }
    Ok(lists)
}

/// Decompresses every entry into a counter: the XML inside must fit [`MAX_XML_BYTES`], whatever
/// the entries' headers claim.
fn check_zip(bytes: &[u8]) -> Result<(), SheetError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
    let mut total = 0u64;
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .map_err(|err| SheetError::Unreadable(err.to_string()))?;
        let left = MAX_XML_BYTES - total;
        let read = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink())
            .map_err(|err| SheetError::Unreadable(err.to_string()))?;
        total += read;
        if total > MAX_XML_BYTES {
            return Err(SheetError::TooLarge("more than 64 MB of data inside"));
        }
    }
    Ok(())
}

/// Every sheet of an `.xlsx`, streamed cell by cell into list text.
fn read_xlsx(bytes: &[u8], budget: &mut usize) -> Result<Vec<(String, String)>, SheetError> {
    let unreadable = |err: calamine::XlsxError| SheetError::Unreadable(err.to_string());
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut sheets = Vec::new();
    for name in workbook.sheet_names() {
        let mut cells = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
        let mut text = ListText::new(budget);
        while let Some(cell) = cells.next_cell().map_err(unreadable)? {
            let (row, column) = cell.get_position();
            text.put(row, column, &cell_text(cell.get_value()))?;
        }
        sheets.push((name, text.finish()));
    }
    Ok(sheets)
}

/// Every sheet of an `.ods`, after checking its used area, into list text.
fn read_ods(bytes: &[u8], budget: &mut usize) -> Result<Vec<(String, String)>, SheetError> {
    check_ods_area(bytes)?;
    let unreadable = |err: calamine::OdsError| SheetError::Unreadable(err.to_string());
    let mut workbook: Ods<_> = Ods::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut sheets = Vec::new();
    for name in workbook.sheet_names() {
        let range = workbook.worksheet_range(&name).map_err(unreadable)?;
        let start = range.start().unwrap_or((0, 0));
        let mut text = ListText::new(budget);
        for (row, column, value) in range.used_cells() {
            text.put(
                start.0 + row as u32,
                start.1 + column as u32,
                &cell_text(value),
            )?;
        }
        sheets.push((name, text.finish()));
    }
    Ok(sheets)
}

/// Scans `content.xml` and refuses a workbook whose sheets' used areas (repeats counted) hold
/// more than [`MAX_CELLS`] cells, before calamine expands them.
fn check_ods_area(bytes: &[u8]) -> Result<(), SheetError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
    let content = zip
        .by_name("content.xml")
        .map_err(|err| SheetError::Unreadable(err.to_string()))?;
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(content));
    let mut buf = Vec::new();
    let too_large = || SheetError::TooLarge("more than 1,000,000 cells in use");
    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &[u8]| -> u64 {
        e.try_get_attribute(name)
            .ok()
            .flatten()
            .and_then(|a| std::str::from_utf8(&a.value).ok()?.parse().ok())
            .unwrap_or(1)
    };
    // Per sheet: rows so far (repeats counted), the last row with a value, the widest row.
    let (mut rows, mut last_row, mut widest, mut pushed) = (0u64, 0u64, 0u64, 0u64);
    let (mut row_repeats, mut column, mut row_width) = (1u64, 0u64, 0u64);
    let mut total = 0u64;
    loop {
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|err| SheetError::Unreadable(err.to_string()))?;
        match &event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"table" => (rows, last_row, widest) = (0, 0, 0),
                b"table-row" if matches!(event, Event::Empty(_)) => {
                    rows = rows.saturating_add(attr(e, b"table:number-rows-repeated"));
                }
                b"table-row" => {
                    row_repeats = attr(e, b"table:number-rows-repeated");
                    (column, row_width) = (0, 0);
                }
                b"table-cell" | b"covered-table-cell" => {
                    let repeats = attr(e, b"table:number-columns-repeated").min(16_384);
                    column += repeats;
                    let has_value = matches!(event, Event::Start(_))
                        || e.try_get_attribute(b"office:value-type")
                            .ok()
                            .flatten()
                            .is_some();
                    if has_value {
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
                        // calamine keeps each row element's cells, then expands the repeats.
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

/// Sheet cells written as comma-separated lines, one per sheet row, within a byte budget
/// shared by the workbook's sheets.
struct ListText<'b> {
    text: String,
    budget: &'b mut usize,
    row: u32,
    column: u32,
}

impl<'b> ListText<'b> {
    fn new(budget: &'b mut usize) -> Self {
        Self {
            text: String::new(),
            budget,
            row: 0,
            column: 0,
        }
    }

    /// Writes `value` at (`row`, `column`), 0-based; cells come row by row, left to right.
    fn put(&mut self, row: u32, column: u32, value: &str) -> Result<(), SheetError> {
        if value.is_empty() {
            return Ok(());
        }
        if row < self.row || (row == self.row && column < self.column && !self.text.is_empty()) {
            return Err(SheetError::Unreadable("cells out of order".into()));
        }
        let new_lines = (row - self.row) as usize;
        let commas = if new_lines > 0 {
            column
        } else {
            column - self.column
        } as usize;
        let cost = new_lines + commas + value.len() + 2;
        if cost > *self.budget {
            return Err(SheetError::TooLarge("more than 64 MB of text"));
        }
        *self.budget -= cost;
        self.text.extend(std::iter::repeat_n('\n', new_lines));
        self.text.extend(std::iter::repeat_n(',', commas));
        push_cell(&mut self.text, value);
        (self.row, self.column) = (row, column);
        Ok(())
    }

    fn finish(mut self) -> String {
        self.text.push('\n');
        self.text
    }
}

/// Appends one cell, quoted when it holds a comma or a quote; line breaks become spaces.
fn push_cell(out: &mut String, value: &str) {
    let value = value.replace(['\r', '\n'], " ");
    if value.contains([',', '"']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

/// A cell as its text, for either of calamine's cell types (streamed `.xlsx` cells, `.ods`
/// ranges); errors and empty cells are empty.
fn cell_text(value: &impl DataType) -> String {
    if let Some(text) = value
        .get_string()
        .or_else(|| value.get_datetime_iso())
        .or_else(|| value.get_duration_iso())
    {
        text.to_string()
    } else if let Some(f) = value.get_float() {
        float_text(f)
    } else if let Some(i) = value.get_int() {
        i.to_string()
    } else if let Some(b) = value.get_bool() {
        if b { "TRUE" } else { "FALSE" }.to_string()
    } else if let Some(dt) = value.get_datetime() {
        date_text(&dt)
    } else {
        String::new()
    }
}

/// A number as a person typed it: `12345`, not `12345.0`.
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// A date cell as ISO 8601: `2026-05-01`, or `2026-05-01 09:30:00` when it has a time.
fn date_text(dt: &calamine::ExcelDateTime) -> String {
    if !dt.is_datetime() {
        return float_text(dt.as_f64());
    }
    let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
    if (h, mi, s) == (0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_names_or_mime_types() {
        assert_eq!(
            SheetKind::of(Some("Guests.XLSX"), "octet-stream"),
            Some(SheetKind::Xlsx)
        );
        assert_eq!(
            SheetKind::of(None, "vnd.oasis.opendocument.spreadsheet"),
            Some(SheetKind::Ods)
        );
        assert_eq!(
            SheetKind::of(Some("old.xls"), "vnd.ms-excel"),
            Some(SheetKind::Unsupported)
        );
        assert_eq!(SheetKind::of(Some("guests.csv"), "csv"), None);
    }

    #[test]
    fn cells_become_lines_keeping_row_numbers() {
        let mut budget = 1_000;
        let mut text = ListText::new(&mut budget);
        text.put(0, 0, "uid").unwrap();
        text.put(0, 1, "email").unwrap();
        text.put(0, 2, "name").unwrap();
        text.put(3, 0, "ev1").unwrap();
        text.put(3, 1, "a@example.com").unwrap();
        text.put(3, 2, "Lee, \"Ann\"\nJr").unwrap();
        text.put(4, 1, "b@example.com").unwrap();
        assert_eq!(
            text.finish(),
            "uid,email,name\n\n\nev1,a@example.com,\"Lee, \"\"Ann\"\" Jr\"\n,b@example.com\n"
        );
    }

    #[test]
    fn text_past_the_budget_is_refused() {
        let mut budget = 100;
        let mut text = ListText::new(&mut budget);
        assert_eq!(
            text.put(1_000_000, 0, "x"),
            Err(SheetError::TooLarge("more than 64 MB of text"))
        );
    }

    /// A zip of `entries`, deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_is_refused_before_anything_is_built() {
        // 65 MB of zeros deflate to about 64 KB.
        let zeros = vec![b'0'; 65 * 1024 * 1024];
        let bomb = zip_of(&[("xl/sharedStrings.xml", &zeros)]);
        assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
        for kind in [SheetKind::Xlsx, SheetKind::Ods] {
            assert_eq!(
                read(&bomb, "bomb", kind, &mut MAX_TEXT_BYTES.clone()),
                Err(SheetError::TooLarge("more than 64 MB of data inside"))
            );
        }
    }

    fn ods_content(rows: &str) -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\"?><office:document-content \
             xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
             xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
             xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body>\
             <office:spreadsheet><table:table table:name=\"S\">{rows}</table:table>\
             </office:spreadsheet></office:body></office:document-content>"
        )
        .into_bytes()
    }

    #[test]
    fn an_ods_whose_repeats_make_millions_of_cells_is_refused() {
        let cell =
            "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
        let far = format!(
            "<table:table-row>{cell}</table:table-row>\
             <table:table-row table:number-rows-repeated=\"1048000\"><table:table-cell/></table:table-row>\
             <table:table-row><table:table-cell table:number-columns-repeated=\"3\"/>{cell}</table:table-row>"
        );
        let wide = "<table:table-row table:number-rows-repeated=\"1000\">\
             <table:table-cell office:value-type=\"string\" table:number-columns-repeated=\"16384\">\
             <text:p>x</text:p></table:table-cell></table:table-row>"
            .to_string();
        let far_empty = format!(
            "<table:table-row>{cell}</table:table-row>\
             <table:table-row table:number-rows-repeated=\"1048000\"/>\
             <table:table-row>{cell}</table:table-row>"
        );
        for rows in [far, wide, far_empty] {
            let ods = zip_of(&[("content.xml", &ods_content(&rows))]);
            assert_eq!(
                check_ods_area(&ods),
                Err(SheetError::TooLarge("more than 1,000,000 cells in use"))
            );
        }
        let small = format!(
            "<table:table-row table:number-rows-repeated=\"5\">{cell}{cell}</table:table-row>"
        );
        let ods = zip_of(&[("content.xml", &ods_content(&small))]);
        assert_eq!(check_ods_area(&ods), Ok(()));
    }

    /// A one-sheet workbook as minimal exporters write it: inline strings, no shared strings
    /// table, no `r` positions on rows and cells.
    fn minimal_xlsx(rows: &[&[&str]]) -> Vec<u8> {
        let main = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        let cell = |t: &str| match t.parse::<i64>() {
            Ok(n) => format!("<c><v>{n}</v></c>"),
            Err(_) => format!("<c t=\"inlineStr\"><is><t>{t}</t></is></c>"),
        };
        let rows: String = rows
            .iter()
            .map(|row| {
                format!(
                    "<row>{}</row>",
                    row.iter().map(|t| cell(t)).collect::<String>()
                )
            })
            .collect();
        let sheet = format!(
            "<?xml version=\"1.0\"?><worksheet {main}><sheetData>{rows}</sheetData></worksheet>"
        );
        zip_of(&[
            (
                "[Content_Types].xml",
                b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                  <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                  <Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>",
            ),
            (
                "_rels/.rels",
                format!(
                    "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{rel}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
                )
                .as_bytes(),
            ),
            (
                "xl/workbook.xml",
                format!(
                    "<?xml version=\"1.0\"?><workbook {main} xmlns:r=\"{rel}\"><sheets>\
                     <sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
                )
                .as_bytes(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(
                    "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{rel}/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"
                )
                .as_bytes(),
            ),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])
    }

    #[test]
    fn a_minimal_xlsx_without_positions_or_shared_strings_is_read() {
        let xlsx = minimal_xlsx(&[
            &["uid", "email"],
            &["team-offsite", "ann@example.com"],
            &[],
            &["12345", "bob@example.com"],
        ]);
        let lists = read(
            &xlsx,
            "export.xlsx",
            SheetKind::Xlsx,
            &mut MAX_TEXT_BYTES.clone(),
        );
        assert_eq!(
            lists,
            Ok(vec![SheetList {
                name: "export.xlsx, sheet \"Sheet1\"".into(),
                text: "uid,email\nteam-offsite,ann@example.com\n\n12345,bob@example.com\n".into(),
            }])
        );
    }

    #[test]
    fn the_text_budget_is_shared_by_every_spreadsheet_of_a_request() {
        let xlsx = minimal_xlsx(&[&["uid", "email"], &["team-offsite", "ann@example.com"]]);
        // Enough for one workbook's text, not for two.
        let mut budget = 60;
        assert!(read(&xlsx, "a.xlsx", SheetKind::Xlsx, &mut budget).is_ok());
        assert!(budget < 30, "{budget}");
        assert_eq!(
            read(&xlsx, "b.xlsx", SheetKind::Xlsx, &mut budget),
            Err(SheetError::TooLarge("more than 64 MB of text"))
        );
    }

    #[test]
    fn numbers_and_dates_read_as_typed() {
        assert_eq!(float_text(12345.0), "12345");
        assert_eq!(float_text(1.5), "1.5");
        let date =
            calamine::ExcelDateTime::new(46143.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(date_text(&date), "2026-05-01");
        let with_time =
            calamine::ExcelDateTime::new(46143.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(date_text(&with_time), "2026-05-01 12:00:00");
    }
}
