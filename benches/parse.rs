//! CPU-only: a stored email with a base64 CSV attachment through to validated rows (MIME
//! parsing, transfer decoding, the list reader, row rules), and an `.xlsx` workbook through the
//! same list reader (its guards, the sheet, the row rules). No I/O.

use std::time::{Duration, Instant};

use bulk_invites::attendees::lists::{self, ListSource};
use bulk_invites::attendees::rows::ListRules;
use bulk_invites::attendees::sheets::SheetKind;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The allocator the Lambda binary uses (src/main.rs), so the figures are the function's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An email as SES stores it, carrying a CSV of about `target_bytes` bytes.
fn request(target_bytes: usize) -> Vec<u8> {
    let mut csv = String::from("uid,email,name\r\n");
    let mut i = 0;
    while csv.len() < target_bytes {
        let uid = [
            "team-offsite-2026",
            "product-launch-2026",
            "customer-summit-2026",
        ][i % 3];
        csv.push_str(&format!(
            "{uid},Attendee.{i}@Example.com,\"Attendee {i}, Example\"\r\n"
        ));
        i += 1;
    }
    let encoded = aws_smithy_types::base64::encode(csv.as_bytes());
    let mut body = String::with_capacity(encoded.len() * 78 / 76 + 1024);
    for line in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(line).unwrap());
        body.push_str("\r\n");
    }
    format!(
        "X-SES-Spam-Verdict: PASS\r\nFrom: organizer@example.com\r\nTo: bulk@calendarsnack.com\r\n\
         Subject: bench\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nlist\r\n--b\r\nContent-Type: text/csv; name=\"l.csv\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}--b--\r\n"
    )
    .into_bytes()
}

/// A workbook of `rows` attendees, written by a real xlsx writer.
fn workbook(rows: u32) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (column, header) in ["uid", "email", "name"].iter().enumerate() {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    for i in 1..=rows {
        sheet.write_string(i, 0, "team-offsite-2026").unwrap();
        sheet
            .write_string(i, 1, format!("Attendee.{i}@Example.com"))
            .unwrap();
        sheet
            .write_string(i, 2, format!("Attendee {i}, Example"))
            .unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// Every list of `sources` through the list reader, as a request reads them.
fn read(sources: Vec<ListSource>) -> usize {
    let until = Instant::now() + Duration::from_secs(30);
    let lists =
        lists::read(sources, &ListRules::with_max_rows(usize::MAX), until).expect("a usable list");
    lists.rows.candidates.len()
}

fn parse(raw: &[u8]) -> usize {
    let email = bulk_invites::inbound::email::parse(raw).expect("an email");
    read(email.lists)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("email_to_rows");
    group.sample_size(20);
    for (label, size) in [("1MB", 1_000_000), ("10MB", 10_000_000)] {
        let raw = request(size);
        assert!(parse(&raw) > 0);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &raw, |b, raw| {
            b.iter(|| parse(raw))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("workbook_to_rows");
    group.sample_size(10);
    for rows in [10_000, 100_000] {
        let bytes = workbook(rows);
        let source = || ListSource::Sheet {
            name: Some("guests.xlsx".into()),
            kind: SheetKind::Xlsx,
            bytes: bytes.clone(),
        };
        assert_eq!(read(vec![source()]), rows as usize);
        group.throughput(Throughput::Elements(u64::from(rows)));
        group.bench_with_input(BenchmarkId::from_parameter(rows), &rows, |b, _| {
            b.iter(|| read(vec![source()]))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
