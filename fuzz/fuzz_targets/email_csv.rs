//! Any stored object: parsing the email and then its lists (through the list reader, as a
//! request does) never panics, and every row read ends in exactly one outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let rules = bulk_invites::attendees::rows::ListRules::with_max_rows(1_000);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    if let Ok(email) = bulk_invites::inbound::email::parse(raw)
        && let Ok(lists) = bulk_invites::attendees::lists::read(email.lists, &rules, until)
    {
        let rows = lists.rows;
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
