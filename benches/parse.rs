//! CPU-only: a stored email with a base64 CSV attachment through to validated rows
//! (MIME parsing, transfer decoding, CSV reading, row rules). No I/O.

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

fn parse(raw: &[u8]) -> usize {
    let email = bulk_invites::inbound::email::parse(raw).expect("an email");
    let csv = email.csvs.first().expect("a CSV");
    let rows = bulk_invites::attendees::rows::parse(&csv.text, usize::MAX).expect("a valid header");
    rows.candidates.len()
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
