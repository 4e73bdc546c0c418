//! Spreadsheets built to stop the function (issue 17), each sent by an authorized organizer
//! and run through the real binary as Lambda runs it, its address space capped at 1 GiB so a
//! runaway allocation stops the binary and not the machine. Each must be answered with one
//! summary naming the file, within the deadline, at 256 MiB at most.

use std::io::{Cursor, Write};

use crate::common::*;

const MAIN: &str = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";

/// A zip of `files`, deflated as tightly as deflate goes (1:1000 on repetition, as a bomb has it).
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An `.xlsx` whose workbook lists `sheets` sheets, every one naming `xl/worksheets/sheet1.xml`
/// (`sheet`), with `shared` as its shared-strings table when given.
fn xlsx(sheets: usize, sheet: &[u8], shared: Option<&[u8]>) -> Vec<u8> {
    let listed: String = (0..sheets)
        .map(|n| format!("<sheet name=\"S{n}\" sheetId=\"{n}\" r:id=\"rId1\"/>"))
        .collect();
    let workbook = format!(
        "<?xml version=\"1.0\"?><workbook {MAIN} xmlns:r=\"{REL}\"><sheets>{listed}</sheets></workbook>"
    );
    let rels = format!(
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
         <Relationship Id=\"rId2\" Type=\"{REL}/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>"
    );
    let top = format!(
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
    );
    let mut files: Vec<(&str, &[u8])> = vec![
        ("_rels/.rels", top.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    if let Some(shared) = shared {
        files.push(("xl/sharedStrings.xml", shared));
    }
    zip_of(&files)
}

/// A sheet with the list header, padded with an XML comment to `size` bytes.
fn sheet_of(size: usize) -> Vec<u8> {
    let head = format!(
        "<?xml version=\"1.0\"?><worksheet {MAIN}><sheetData><row>\
         <c t=\"inlineStr\"><is><t>uid</t></is></c><c t=\"inlineStr\"><is><t>email</t></is></c>\
         </row></sheetData><!--"
    );
    let tail = "--></worksheet>";
    let mut sheet = head.into_bytes();
    sheet.resize(size.saturating_sub(tail.len()).max(sheet.len()), b'0');
    sheet.extend_from_slice(tail.as_bytes());
    sheet
}

fn shared_strings(unique_count: &str, body: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\"?><sst {MAIN} uniqueCount=\"{unique_count}\">{body}</sst>")
        .into_bytes()
}

/// An `.ods` whose first sheet has `rows` as its rows.
fn ods(rows: &str) -> Vec<u8> {
    let content = format!(
        "<?xml version=\"1.0\"?><office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body>\
         <office:spreadsheet><table:table table:name=\"S\">{rows}</table:table>\
         </office:spreadsheet></office:body></office:document-content>"
    );
    zip_of(&[
        ("mimetype", ODS.as_bytes()),
        ("content.xml", content.as_bytes()),
    ])
}

/// An email from `from` with every `(file name, content type, bytes)` attached.
fn email_with_files(from: &str, files: &[(String, &str, &[u8])]) -> Vec<u8> {
    let mut email = format!(
        "{}From: {from}\r\nTo: bulk@calendarsnack.com\r\nSubject: guests\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nThe list is attached.\r\n",
        ses_headers(from)
    );
    for (name, content_type, bytes) in files {
        let encoded = aws_smithy_types::base64::encode(bytes);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        email.push_str(&format!(
            "--b1\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    email.push_str("--b1--\r\n");
    email.into_bytes()
}

/// Runs one hostile email through the capped binary and checks the answer.
async fn answered_within_bounds(case: &str, files: Vec<(String, &str, Vec<u8>)>) {
    let f = Fixture::new(case).await;
    let key = unique(&format!("bulk_event_invites_email/{case}"));
    let attached: Vec<(String, &str, &[u8])> = files
        .iter()
        .map(|(name, kind, bytes)| (name.clone(), *kind, bytes.as_slice()))
        .collect();
    f.put_email(&key, email_with_files(&f.sender, &attached))
        .await;

    let run = f.run_binary(&key, Some(1024 * 1024)).await;

    assert_eq!(
        run.response, r#"{"batchItemFailures":[]}"#,
        "{case}: {:?}",
        run.stderr
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "{case}: one summary: {:#?}", run.stderr);
    let (text, _) = bodies(&emails[0]);
    assert!(
        text.contains(&files[0].0),
        "{case}: the summary names the file: {text}"
    );
    assert!(
        run.peak_rss_kib <= 256 * 1024,
        "{case}: peak {} KiB",
        run.peak_rss_kib
    );
    assert!(run.elapsed.as_secs() < 150, "{case}: {:?}", run.elapsed);
    eprintln!(
        "{case}: answered in {:.2} s at {:.1} MiB",
        run.elapsed.as_secs_f64(),
        run.peak_rss_kib as f64 / 1024.0
    );
}

fn one(name: &str, kind: &'static str, bytes: Vec<u8>) -> Vec<(String, &'static str, Vec<u8>)> {
    vec![(name.to_string(), kind, bytes)]
}

#[tokio::test]
async fn shared_string_counts_of_1e11_and_usize_max() {
    for (case, declared) in [
        ("sst-1e11", "99999999999"),
        ("sst-usize-max", "18446744073709551615"),
    ] {
        let shared = shared_strings(declared, "<si><t>a</t></si>");
        let workbook = xlsx(1, &sheet_of(0), Some(&shared));
        answered_within_bounds(case, one("guests.xlsx", XLSX, workbook)).await;
    }
}

#[tokio::test]
async fn an_ole_header_before_a_zip() {
    let ole = [
        &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
        &xlsx(1, &sheet_of(0), None),
    ]
    .concat();
    answered_within_bounds("ole-before-zip", one("guests.xlsx", XLSX, ole)).await;
}

#[tokio::test]
async fn ods_repeats_as_character_references_and_self_closing_valued_cells() {
    let cell =
        "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
    let escaped = ods(&format!(
        "<table:table-row>{cell}{cell}</table:table-row>\
         <table:table-row table:number-rows-repeated=\"&#49;048000\"><table:table-cell/></table:table-row>\
         <table:table-row>{cell}</table:table-row>"
    ));
    answered_within_bounds("ods-escaped", one("guests.ods", ODS, escaped)).await;
    let valued = ods("<table:table-row table:number-rows-repeated=\"1000\">\
         <table:table-cell office:value=\"1\" table:number-columns-repeated=\"16384\"/></table:table-row>");
    answered_within_bounds("ods-valued", one("guests.ods", ODS, valued)).await;
}

#[tokio::test]
async fn three_thousand_sheets_naming_one_8_mb_part() {
    let workbook = xlsx(3_000, &sheet_of(8 * 1024 * 1024), None);
    answered_within_bounds("3000-sheets", one("guests.xlsx", XLSX, workbook)).await;
}

#[tokio::test]
async fn a_hundred_and_fifty_workbooks_of_63_mb_of_xml() {
    let workbook = xlsx(1, &sheet_of(63 * 1024 * 1024), None);
    let files = (0..150)
        .map(|n| (format!("guests-{n:03}.xlsx"), XLSX, workbook.clone()))
        .collect();
    answered_within_bounds("150-workbooks", files).await;
}

#[tokio::test]
async fn sixty_three_mb_of_empty_shared_strings() {
    let strings = "<si><t/></si>".repeat(63 * 1024 * 1024 / 13);
    let shared = shared_strings("1", &strings);
    let workbook = xlsx(1, &sheet_of(0), Some(&shared));
    answered_within_bounds("empty-shared-strings", one("guests.xlsx", XLSX, workbook)).await;
}

const XLS: &str = "application/vnd.ms-excel";

/// The LibreOffice fixture's workbook stream with `records` added at the end of its last sheet
/// (which ends the stream, so no sheet moves), in a new compound file.
fn xls_with(records: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xls").unwrap();
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes)).unwrap();
    let mut stream = Vec::new();
    file.open_stream("/Workbook")
        .unwrap()
        .read_to_end(&mut stream)
        .unwrap();
    let eof = [0x0A, 0, 0, 0];
    assert!(stream.ends_with(&eof), "the last sheet ends the stream");
    stream.truncate(stream.len() - eof.len());
    stream.extend_from_slice(records);
    stream.extend_from_slice(&eof);
    let mut out =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new())).unwrap();
    out.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    out.flush().unwrap();
    out.into_inner().into_inner()
}

/// A BIFF record.
fn biff(typ: u16, data: &[u8]) -> Vec<u8> {
    [
        &typ.to_le_bytes()[..],
        &(data.len() as u16).to_le_bytes(),
        data,
    ]
    .concat()
}

#[tokio::test]
async fn an_xls_with_one_number_in_the_far_corner() {
    // calamine would build a 65,536 x 65,536 rectangle: 137 GB.
    let number = [
        &65_535u16.to_le_bytes()[..],
        &65_535u16.to_le_bytes(),
        &[0, 0],
        &1f64.to_le_bytes(),
    ]
    .concat();
    let bomb = xls_with(&biff(0x0203, &number));
    answered_within_bounds("xls-far-corner", one("guests.xls", XLS, bomb)).await;
}

#[tokio::test]
async fn an_xls_of_labels_declaring_65535_characters() {
    // Each 14-byte record makes calamine reserve 64 KB: 30,000 of them, 1.9 GB.
    let records: Vec<u8> = (0..30_000u16)
        .flat_map(|row| {
            let data = [
                &row.to_le_bytes()[..],
                &[9, 0, 0, 0],
                &u16::MAX.to_le_bytes(),
                &[0, b'x'],
            ]
            .concat();
            biff(0x0204, &data)
        })
        .collect();
    let bomb = xls_with(&records);
    answered_within_bounds("xls-declared-labels", one("guests.xls", XLS, bomb)).await;
}

#[tokio::test]
async fn an_xls_whose_sector_chains_loop() {
    // calamine follows a looping directory chain without end, growing as it goes.
    let mut file = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xls").unwrap();
    let fat = 512 * (u32::from_le_bytes(file[76..80].try_into().unwrap()) as usize + 1);
    for (index, entry) in file[fat..fat + 512].chunks_mut(4).enumerate() {
        if u32::from_le_bytes(entry.try_into().unwrap()) < 0xFFFF_FFFA {
            entry.copy_from_slice(&(index as u32).to_le_bytes());
        }
    }
    answered_within_bounds("xls-looped-chains", one("guests.xls", XLS, file)).await;
}
