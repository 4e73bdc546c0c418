//! Any SQS record body: decoding returns objects, a test event, or a classified error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = bulk_invites::inbound::notification::decode(&String::from_utf8_lossy(body));
});
