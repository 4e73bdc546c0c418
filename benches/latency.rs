//! The publish pipeline at a real region's latency (issue 11): the real handler and the real SDK
//! against moto, with a fixed delay added to every call by the fault-injecting HTTP client the
//! tests use. Reports per size: wall time, the latency-bound ideal for the calls made
//! (`latency x (serial calls + parallel calls / MAX_IN_FLIGHT)`), their ratio, calls by
//! operation, and this process's CPU time per 10,000 rows.
//!
//! Run through `make bench` (scripts/bench.sh starts moto):
//! `scripts/moto.sh run .tmp/latency cargo bench --bench latency -- 10000,100000`
//!
//! With `--local-sns` (issue 20's million rows), SNS is answered by the test client itself
//! ([`common::faults::LocalSns`]) after the same latency, so the emulator's one thread is not
//! what is measured; `MAX_ROWS` is set to the list's size, every invite is checked published
//! exactly once, and the process's peak RSS is reported (the list generated here is dropped
//! before the handler runs).

#[path = "../tests/it/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::faults::{FaultyClient, LocalSns, PublishFaults};
use common::*;
use lambda_runtime::{Context, LambdaEvent};

const LATENCY: Duration = Duration::from_millis(25);
const EVENTS: [&str; 3] = ["e1", "e2", "e3"];

/// User and system CPU time of this process, from /proc (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime 11, stime 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Peak resident memory of this process, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run(rows: usize, latency: Duration, local_sns: bool) -> f64 {
    let mut f = Fixture::new("latency").await;
    for uid in EVENTS {
        f.seed_event(uid, &f.sender).await;
    }
    let max_in_flight = f.app.config.max_in_flight;
    let faulty = FaultyClient::around_default(PublishFaults {
        latency,
        local_sns: local_sns.then(|| LocalSns {
            marker: "g",
            ..LocalSns::default()
        }),
        ..PublishFaults::default()
    });
    f.configure(|c| {
        c.max_in_flight = max_in_flight;
        if local_sns {
            c.limits.max_rows = rows;
        }
    });
    f.route_through(&faulty);
    let mut csv = String::from(if local_sns {
        "uid,email\n"
    } else {
        "uid,email,name\n"
    });
    for i in 0..rows {
        if local_sns {
            // Short rows, as a list manager's export of a million addresses is: the whole
            // list must fit one stored email of at most 40 MiB after base64.
            csv.push_str(&format!("{},g{i}@example.com\n", EVENTS[i % 3]));
        } else {
            csv.push_str(&format!(
                "{},attendee{i}@example.com,Attendee {i}\n",
                EVENTS[i % 3]
            ));
        }
    }
    let key = format!("bulk_event_invites_email/{}", unique("latency"));
    f.put_email(&key, email_with_csv(&f.sender, csv.as_bytes()))
        .await;
    drop(csv);
    let event = sqs_event(&[sns_wrapped(&s3_event(&f.bucket, &encode_key(&key)))]);
    let mut context = Context::default();
    context.request_id = unique("bench");
    context.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 900_000;

    // The peak from here on is the handler's: building the list above is not (Linux resets
    // VmHWM when 5 is written to clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (cpu_before, started) = (cpu_time(), Instant::now());
    let response = bulk_invites::handler::handle(&f.app, LambdaEvent::new(event, context))
        .await
        .unwrap();
    let (wall, cpu) = (started.elapsed(), cpu_time() - cpu_before);
    assert!(
        response.batch_item_failures.is_empty(),
        "the request completed"
    );

    let calls = f.app.aws.calls().snapshot();
    let count = |op: &str| calls.get(op).copied().unwrap_or(0);
    // Calls that wait on each other: read the email, authorize, claim, final checkpoint,
    // summary, completion. The rest run MAX_IN_FLIGHT at a time (periodic checkpoints run
    // beside the publishing).
    let serial = count("S3.GetObject") + count("DynamoDB.GetItem") + count("SESv2.SendEmail") + 3;
    let total: u64 = calls.values().sum();
    let parallel = total - serial;
    let ideal = latency.as_secs_f64() * (serial as f64 + parallel as f64 / max_in_flight as f64);
    let ratio = if ideal > 0.0 {
        format!("{:.2}", wall.as_secs_f64() / ideal)
    } else {
        "n/a".into()
    };
    println!(
        "rows {rows} at {} ms a call: wall {:.2} s, ideal {ideal:.2} s, ratio {ratio}, calls {total} ({serial} serial, {parallel} parallel at {max_in_flight}), CPU {:.2} s per 10,000 rows; {calls:?}",
        latency.as_millis(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 10_000.0 / rows as f64,
    );
    if local_sns {
        let faults = faulty.faults.lock().unwrap();
        let sns = faults.local_sns.as_ref().unwrap();
        println!(
            "rows {rows}: {} invites published, {} distinct, {} repeated, exactly once: {}; peak RSS {:.1} MiB",
            sns.published,
            sns.distinct(),
            sns.repeats,
            sns.published == rows as u64 && sns.distinct() == rows as u64 && sns.repeats == 0,
            peak_rss_mib()
        );
    }
    wall.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` (the test command) runs this
    // binary without it, and a benchmark has no place there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("latency: a benchmark; run it with `cargo bench --bench latency`");
        return;
    }
    // The sizes are the first argument that is not a flag.
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let local_sns = std::env::args().any(|a| a == "--local-sns");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for rows in sizes {
        if local_sns {
            runtime.block_on(run(rows, LATENCY, true));
            continue;
        }
        // moto alone (no added latency) shows how much of the wall time is the emulator's own:
        // one Python process answers the 8 concurrent calls one after another.
        let alone = runtime.block_on(run(rows, Duration::ZERO, false));
        let wall = runtime.block_on(run(rows, LATENCY, false));
        println!("rows {rows}: the emulator alone took {alone:.2} s of the {wall:.2} s");
    }
}
