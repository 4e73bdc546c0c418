//! Any stored object: parsing the email and then its CSV never panics, and every row read from
//! the CSV ends in exactly one outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    if let Ok(email) = bulk_invites::inbound::email::parse(raw)
        && let Some(csv) = email.csvs.first()
        && let Ok(rows) = bulk_invites::attendees::rows::parse(&csv.text, 1_000)
    {
        let mut seen = std::collections::HashSet::new();
        for row in rows
            .candidates
            .iter()
            .map(|c| c.row)
            .chain(rows.rejected.iter().map(|r| r.row))
        {
            assert!(seen.insert(row), "row {row:?} has two outcomes");
        }
    }
});
