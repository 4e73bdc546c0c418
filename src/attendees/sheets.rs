//! Spreadsheets (`.xlsx` from Excel or Google Sheets, `.ods` from LibreOffice, `.xls` from
//! Excel 97-2003 and the registration and accounting systems that still export it), read with
//! calamine into the same list text a CSV gives, so every row rule, limit and reason applies
//! unchanged.
//!
//! Each sheet whose first non-empty row names a `uid` and an `email` column becomes one list,
//! named `guests.xlsx, sheet "Sheet1"`; a sheet row is a line of that list, so row numbers are
//! the spreadsheet's own. Cells are written as their text: a date typed into a cell comes out
//! as `2026-05-01` (with the time when it has one), a whole number without `.0`, a text cell
//! exactly as typed. Line breaks inside a cell become spaces (a row stays a line).
//!
//! The reader is chosen by what the file is, not what it is called: a zip is read as the
//! `.xlsx` or `.ods` its name says (an `.xlsx` saved as `.xls` is read as `.xlsx`), an OLE
//! compound file as an `.xls` whatever its name (an `.xlsx` Office encrypted is one too, and
//! is answered as password-protected).
//!
//! Threat: a spreadsheet is small on the wire and huge inside, and declares its own sizes.
//! Before calamine sees a workbook, [`super::workbook`] (zips) or [`super::xls`] (OLE) checks
//! what it declares against limits and charges every byte any pass reads to one budget per
//! request, which also holds the time reading may take. Here, `.xlsx` sheets are streamed
//! cell by cell, and the list text of all the request's spreadsheets together is refused past
//! [`MAX_TEXT_BYTES`] (millions of empty rows, cells far to the right, many small
//! attachments). calamine reads through a metered reader that fails once the time is spent,
//! so a read that would take too long stops with an answer.
//!
//! `.xlsb` (Excel's binary workbook) is not read: its records declare counts calamine
//! trusts, and no guard here bounds them. The organizer is asked to save as `.xlsx`, `.xls`,
//! `.ods` or `.csv`.

use std::io::Cursor;

use std::io::{Read, Seek};

use calamine::{DataType, Ods, Reader, Xls, Xlsx};

use super::budget::{Budget, Metered, read_failed};
use super::{workbook, xls};
use crate::attendees::header;

/// Most bytes of list text the spreadsheets of one request may make, all sheets together.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// A spreadsheet format the function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    /// Office Open XML (`.xlsx`): Excel, Google Sheets, Numbers' export.
    Xlsx,
    /// OpenDocument (`.ods`): LibreOffice, OpenOffice.
    Ods,
    /// Excel 97-2003 (`.xls`): Excel, registration and accounting systems' exports.
    Xls,
    /// Excel's binary workbook (`.xlsb`): not read; the organizer is told why.
    Xlsb,
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
        } else if name.ends_with(".xls") {
            // Not by `vnd.ms-excel`: Windows sends every CSV file with that type.
            Some(Self::Xls)
        } else if name.ends_with(".xlsb") || subtype == "vnd.ms-excel.sheet.binary.macroenabled.12"
        {
            Some(Self::Xlsb)
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
    /// `.xlsb`.
    #[error("Excel binary workbooks (.xlsb) are not read: save it as .xlsx, .xls, .ods or .csv")]
    Unsupported,
    /// Larger inside than the limits allow.
    #[error("the spreadsheet is too large to read ({0}): split it, or save it as .csv")]
    TooLarge(&'static str),
    /// Not a readable workbook (damaged).
    #[error("the spreadsheet could not be read ({0}): save it again as .xlsx, .ods or .csv")]
    Unreadable(String),
    /// A workbook encrypted with a password (an `.xls`, or an `.xlsx` Office encrypted).
    #[error(
        "the spreadsheet is password-protected: save it without a password as .xlsx, .ods or \
         .csv"
    )]
    Protected,
    /// Does not start as the zip every `.xlsx` and `.ods` is.
    #[error("the file is not a spreadsheet its name says it is: save it as .xlsx, .ods or .csv")]
    NotAWorkbook,
    /// Reading took longer than the request's spreadsheets may take.
    #[error("the spreadsheet takes too long to read: split it, or save it as .csv")]
    TooSlow,
    /// No sheet's first row names a uid and an email column.
    #[error("no sheet has a header row with uid and email columns")]
    NoList,
}

/// Reads every sheet of `bytes` that holds a list, charging `budget`: what all of a request's
/// spreadsheets may spend together (many small attachments must not multiply the bound).
pub fn read(
    bytes: &[u8],
    file_name: &str,
    kind: SheetKind,
    budget: &mut Budget,
    uid_from_subject: bool,
) -> Result<Vec<SheetList>, SheetError> {
    budget.check_time()?;
    let sheets = match Format::of(bytes, kind)? {
        Format::Xls => {
            let copy = xls::clean_copy(bytes, budget)?;
            let mut workbook: Xls<_> =
                Xls::new(Metered::new(Cursor::new(copy), budget.until())).map_err(read_failed)?;
            ranges_text(&mut workbook, budget)?
        }
        Format::Xlsx => {
            let inventory = workbook::inventory(bytes, budget)?;
            read_xlsx(bytes, &inventory, budget)?
        }
        Format::Ods => {
            let inventory = workbook::inventory(bytes, budget)?;
            let content = inventory.sizes.get("content.xml").copied();
            workbook::check_ods_area(bytes, content, budget)?;
            read_ods(bytes, &inventory, budget)?
        }
    };
    let lists: Vec<SheetList> = sheets
        .into_iter()
        .filter(|(_, text)| header::find_header(text, Some(DELIMITER), uid_from_subject).is_some())
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

/// Every sheet of an `.xlsx`, streamed cell by cell into list text. Opening the workbook reads
/// every file but the sheets (shared strings, styles, relationships); each sheet's part is
/// charged when it is read.
fn read_xlsx(
    bytes: &[u8],
    inventory: &workbook::Inventory,
    budget: &mut Budget,
) -> Result<Vec<(String, String)>, SheetError> {
    let sheet_parts: u64 = inventory
        .sheet_parts
        .values()
        .filter_map(|part| inventory.sizes.get(part))
        .sum();
    budget.charge(inventory.total().saturating_sub(sheet_parts))?;
    let source = Metered::new(Cursor::new(bytes), budget.until());
    let mut workbook = Xlsx::new(source).map_err(read_failed)?;
    let mut sheets = Vec::new();
    for name in workbook.sheet_names() {
        budget.charge(inventory.sheet_size(&name))?;
        let mut cells = workbook
            .worksheet_cells_reader(&name)
            .map_err(read_failed)?;
        let mut text = ListText::new(&mut budget.text_bytes);
        while let Some(cell) = cells.next_cell().map_err(read_failed)? {
            let (row, column) = cell.get_position();
            text.put(row, column, &cell_text(cell.get_value()))?;
        }
        sheets.push((name, text.finish()));
        budget.check_time()?;
    }
    Ok(sheets)
}

/// Every sheet of an `.ods`, after checking its used area, into list text. The library reads
/// every file of it at once.
fn read_ods(
    bytes: &[u8],
    inventory: &workbook::Inventory,
    budget: &mut Budget,
) -> Result<Vec<(String, String)>, SheetError> {
    budget.charge(inventory.total())?;
    let source = Metered::new(Cursor::new(bytes), budget.until());
    let mut workbook: Ods<_> = Ods::new(source).map_err(read_failed)?;
    ranges_text(&mut workbook, budget)
}

/// Every sheet of a workbook calamine has read whole (`.ods`, `.xls`), into list text.
fn ranges_text<RS, W>(
    workbook: &mut W,
    budget: &mut Budget,
) -> Result<Vec<(String, String)>, SheetError>
where
    RS: Read + Seek,
    W: Reader<RS>,
    W::Error: std::fmt::Display,
{
    let mut sheets = Vec::new();
    for name in workbook.sheet_names() {
        let range = workbook.worksheet_range(&name).map_err(read_failed)?;
        let start = range.start().unwrap_or((0, 0));
        let mut text = ListText::new(&mut budget.text_bytes);
        for (row, column, value) in range.used_cells() {
            text.put(
                start.0 + row as u32,
                start.1 + column as u32,
                &cell_text(value),
            )?;
        }
        sheets.push((name, text.finish()));
        budget.check_time()?;
    }
    Ok(sheets)
}

/// What a spreadsheet's bytes are, whatever its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xlsx,
    Ods,
    Xls,
}

impl Format {
    /// The reader for `bytes`, sent as `kind`: a zip is the `.xlsx` or `.ods` its name says,
    /// an OLE file an `.xls`; `.xlsb` is not read.
    fn of(bytes: &[u8], kind: SheetKind) -> Result<Self, SheetError> {
        match (kind, workbook::signature(bytes)) {
            (SheetKind::Xlsb, _) => Err(SheetError::Unsupported),
            (_, Some(workbook::Signature::Ole)) => Ok(Self::Xls),
            (SheetKind::Ods, Some(workbook::Signature::Zip)) => Ok(Self::Ods),
            (_, Some(workbook::Signature::Zip)) => Ok(Self::Xlsx),
            (_, None) => Err(SheetError::NotAWorkbook),
        }
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

/// The delimiter of a sheet's list text: the reader is told it, never guesses it.
pub const DELIMITER: u8 = b',';

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
pub(crate) mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A request's budget with a minute to read.
    fn budget() -> Budget {
        Budget::new(Instant::now() + Duration::from_secs(60))
    }

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
            Some(SheetKind::Xls)
        );
        assert_eq!(
            SheetKind::of(Some("Export.XLS"), "octet-stream"),
            Some(SheetKind::Xls)
        );
        assert_eq!(
            SheetKind::of(Some("big.xlsb"), "octet-stream"),
            Some(SheetKind::Xlsb)
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
                read(&bomb, "bomb", kind, &mut budget(), false),
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
                workbook::check_ods_area(&ods, None, &mut budget()),
                Err(SheetError::TooLarge("more than 1,000,000 cells in use"))
            );
        }
        let small = format!(
            "<table:table-row table:number-rows-repeated=\"5\">{cell}{cell}</table:table-row>"
        );
        let ods = zip_of(&[("content.xml", &ods_content(&small))]);
        assert_eq!(workbook::check_ods_area(&ods, None, &mut budget()), Ok(()));
    }

    /// A one-sheet workbook as minimal exporters write it: inline strings, no shared strings
    /// table, no `r` positions on rows and cells.
    pub(crate) fn minimal_xlsx(rows: &[&[&str]]) -> Vec<u8> {
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
        let lists = read(&xlsx, "export.xlsx", SheetKind::Xlsx, &mut budget(), false);
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
        let mut budget = budget();
        budget.text_bytes = 60;
        assert!(read(&xlsx, "a.xlsx", SheetKind::Xlsx, &mut budget, false).is_ok());
        assert!(budget.text_bytes < 30, "{}", budget.text_bytes);
        assert_eq!(
            read(&xlsx, "b.xlsx", SheetKind::Xlsx, &mut budget, false),
            Err(SheetError::TooLarge("more than 64 MB of text"))
        );
    }

    const MAIN: &str = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    /// An `.xlsx` whose workbook lists `sheets` (name, relationship id), with the relationships
    /// `relations` (id, target) and the files `parts`.
    fn xlsx_with(
        sheets: &[(String, &str)],
        relations: &[(&str, &str)],
        parts: &[(&str, &[u8])],
    ) -> Vec<u8> {
        let sheets: String = sheets
            .iter()
            .enumerate()
            .map(|(n, (name, id))| {
                format!("<sheet name=\"{name}\" sheetId=\"{n}\" r:id=\"{id}\"/>")
            })
            .collect();
        let relations: String = relations
            .iter()
            .map(|(id, target)| {
                format!("<Relationship Id=\"{id}\" Type=\"{REL}/worksheet\" Target=\"{target}\"/>")
            })
            .collect();
        let workbook = format!(
            "<?xml version=\"1.0\"?><workbook {MAIN} xmlns:r=\"{REL}\"><sheets>{sheets}</sheets></workbook>"
        );
        let rels = format!(
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{relations}</Relationships>"
        );
        let top = format!(
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
        );
        let mut files: Vec<(&str, &[u8])> = vec![
            ("_rels/.rels", top.as_bytes()),
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ];
        files.extend_from_slice(parts);
        zip_of(&files)
    }

    fn list_sheet() -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\"?><worksheet {MAIN}><sheetData><row>\
             <c t=\"inlineStr\"><is><t>uid</t></is></c><c t=\"inlineStr\"><is><t>email</t></is></c>\
             </row></sheetData></worksheet>"
        )
        .into_bytes()
    }

    fn one_sheet_with_shared_strings(shared: &str) -> Vec<u8> {
        let sheet = list_sheet();
        xlsx_with(
            &[("Sheet1".into(), "rId1")],
            &[("rId1", "worksheets/sheet1.xml")],
            &[
                ("xl/worksheets/sheet1.xml", &sheet),
                ("xl/sharedStrings.xml", shared.as_bytes()),
            ],
        )
    }

    #[test]
    fn declared_shared_strings_past_the_limit_are_refused_before_the_library_reserves_them() {
        for declared in ["99999999999", "18446744073709551615"] {
            let xlsx = one_sheet_with_shared_strings(&format!(
                "<sst {MAIN} uniqueCount=\"{declared}\"><si><t>x</t></si></sst>"
            ));
            assert_eq!(
                read(&xlsx, "guests.xlsx", SheetKind::Xlsx, &mut budget(), false),
                Err(SheetError::TooLarge("more than 1,000,000 shared strings")),
                "{declared}"
            );
        }
    }

    #[test]
    fn millions_of_empty_shared_strings_are_refused_while_counted() {
        let strings = "<si><t/></si>".repeat(1_000_001);
        let xlsx = one_sheet_with_shared_strings(&format!("<sst {MAIN}>{strings}</sst>"));
        assert_eq!(
            read(&xlsx, "guests.xlsx", SheetKind::Xlsx, &mut budget(), false),
            Err(SheetError::TooLarge("more than 1,000,000 shared strings"))
        );
    }

    #[test]
    fn an_ole_header_before_a_zip_is_answered_not_probed() {
        let xlsx = minimal_xlsx(&[&["uid", "email"]]);
        let ole = [&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..], &xlsx].concat();
        for kind in [SheetKind::Xlsx, SheetKind::Ods, SheetKind::Xls] {
            let err = read(&ole, "guests.xlsx", kind, &mut budget(), false).unwrap_err();
            assert!(
                matches!(&err, SheetError::Unreadable(why) if why.starts_with("not an Excel 97-2003 workbook")),
                "{err:?}"
            );
            assert_eq!(
                read(b"uid,email\n", "guests.xlsx", kind, &mut budget(), false),
                Err(SheetError::NotAWorkbook)
            );
        }
    }

    #[test]
    fn sheets_past_the_limit_or_naming_one_part_twice_are_refused() {
        let sheet = list_sheet();
        let many: Vec<(String, &str)> = (0..3_000).map(|n| (format!("S{n}"), "rId1")).collect();
        let part = [("xl/worksheets/sheet1.xml", &sheet[..])];
        let relation = [("rId1", "worksheets/sheet1.xml")];
        assert_eq!(
            read(
                &xlsx_with(&many, &relation, &part),
                "g.xlsx",
                SheetKind::Xlsx,
                &mut budget(),
                false
            ),
            Err(SheetError::TooLarge("more than 100 sheets"))
        );
        let twice = [("A".to_string(), "rId1"), ("B".to_string(), "rId1")];
        assert!(matches!(
            read(&xlsx_with(&twice, &relation, &part), "g.xlsx", SheetKind::Xlsx, &mut budget(), false),
            Err(SheetError::Unreadable(why)) if why.contains("same part")
        ));
        let once = [("A".to_string(), "rId1")];
        assert!(
            read(
                &xlsx_with(&once, &relation, &part),
                "g.xlsx",
                SheetKind::Xlsx,
                &mut budget(),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn every_workbook_of_a_request_spends_one_xml_budget() {
        let xlsx = minimal_xlsx(&[&["uid", "email"], &["team-offsite", "ann@example.com"]]);
        let mut budget = budget();
        // Enough for the check and the read of one workbook, not of two.
        budget.xml_bytes = 3_000;
        assert!(read(&xlsx, "a.xlsx", SheetKind::Xlsx, &mut budget, false).is_ok());
        assert!(matches!(
            read(&xlsx, "b.xlsx", SheetKind::Xlsx, &mut budget, false),
            Err(SheetError::TooLarge(_))
        ));
    }

    #[test]
    fn reading_stops_when_the_time_is_spent() {
        let xlsx = minimal_xlsx(&[&["uid", "email"]]);
        let mut spent = Budget::new(Instant::now());
        assert_eq!(
            read(&xlsx, "a.xlsx", SheetKind::Xlsx, &mut spent, false),
            Err(SheetError::TooSlow)
        );
    }

    #[test]
    fn ods_repeats_are_read_as_the_library_reads_them() {
        let cell =
            "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
        // A character reference is 1 to a raw reader and 1,048,000 to the library.
        let escaped = format!(
            "<table:table-row>{cell}</table:table-row>\
             <table:table-row table:number-rows-repeated=\"&#49;048000\"><table:table-cell/></table:table-row>\
             <table:table-row>{cell}</table:table-row>"
        );
        // A self-closing cell with a value but no value type is a value to the library.
        let valued = "<table:table-row table:number-rows-repeated=\"2000\">\
             <table:table-cell office:value=\"1\" table:number-columns-repeated=\"1000\"/>\
             </table:table-row>"
            .to_string();
        for rows in [escaped, valued] {
            let ods = zip_of(&[("content.xml", &ods_content(&rows))]);
            assert_eq!(
                workbook::check_ods_area(&ods, None, &mut budget()),
                Err(SheetError::TooLarge("more than 1,000,000 cells in use")),
                "{rows}"
            );
        }
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
