//! Any spreadsheet attachment, read by the list reader as a request reads it: reading never
//! panics, never hangs past its time budget, stays within its memory budget (libFuzzer's RSS
//! limit stops a run that does not), and every row read ends in exactly one outcome.
//!
//! The first byte picks the form. Its low bit: set, the rest is the attachment's bytes as sent
//! (anything, an OLE header, a truncated zip); clear, the rest is the inside of a workbook
//! packed as a real client would, so the mutations land in what the guards and the library
//! read: for `.xlsx` and `.ods`, split at 0xFF bytes into files (workbook, relationships,
//! sheet, shared strings, `.ods` content) and zipped; for `.xls`, BIFF records written as the
//! workbook stream of a compound file. The next bits pick the kind the name says.
#![no_main]

use std::io::Write;
use std::time::{Duration, Instant};

use bulk_invites::attendees::lists::{self, ListSource};
use bulk_invites::attendees::rows::ListRules;
use bulk_invites::attendees::sheets::SheetKind;
use libfuzzer_sys::fuzz_target;

const FILES: [&str; 6] = [
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/worksheets/sheet1.xml",
    "xl/sharedStrings.xml",
    "content.xml",
    "_rels/.rels",
];

fn workbook(parts: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, part) in FILES.iter().zip(parts.split(|b| *b == 0xFF)) {
        zip.start_file(*name, options).unwrap();
        zip.write_all(part).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `stream` as the workbook stream of a compound file.
fn compound(stream: &[u8]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create_with_version(
        cfb::Version::V3,
        std::io::Cursor::new(Vec::new()),
    )
    .unwrap();
    file.create_stream("/Workbook")
        .unwrap()
        .write_all(stream)
        .unwrap();
    file.flush().unwrap();
    file.into_inner().into_inner()
}

fuzz_target!(|input: &[u8]| {
    let Some((&form, rest)) = input.split_first() else {
        return;
    };
    let kind = match (form >> 1) % 3 {
        0 => SheetKind::Xlsx,
        1 => SheetKind::Ods,
        _ => SheetKind::Xls,
    };
    let bytes = match (form % 2, kind) {
        (1, _) => rest.to_vec(),
        (_, SheetKind::Xls) => compound(rest),
        _ => workbook(rest),
    };
    let started = Instant::now();
    let sheet = ListSource::Sheet {
        name: Some("fuzz.xlsx".into()),
        kind,
        bytes,
    };
    let rules = ListRules::with_max_rows(1_000);
    if let Ok(read) = lists::read(vec![sheet], &rules, started + Duration::from_secs(2)) {
        let mut seen = std::collections::HashSet::new();
        let rows = &read.rows;
        for row in rows
            .candidates
            .iter()
            .map(|c| c.row)
            .chain(rows.rejected.iter().map(|r| r.row))
        {
            assert!(seen.insert(row), "row {row:?} has two outcomes");
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "read ran {:?} past a 2 s budget",
        started.elapsed()
    );
});
