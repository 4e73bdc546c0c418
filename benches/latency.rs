//! The publish pipeline at a real region's latency (issue 11): the real handler and the real SDK
//! against moto, with a fixed delay added to every call by the fault-injecting HTTP client the
//! tests use. Reports per size: wall time, the latency-bound ideal for the calls made
//! (`latency x (serial calls + parallel calls / MAX_IN_FLIGHT)`), their ratio, calls by
//! operation, and this process's CPU time per 10,000 rows.
//!
//! Run through `make bench` (scripts/bench.sh starts moto):
//! `scripts/moto.sh run .tmp/latency cargo bench --bench latency -- 10000,100000`
//!
//! With `--local` (issue 20's million rows), SNS and the block-record lookups are answered by the
//! test client itself ([`common::faults::LocalSns`], `local_blocks`) after the same latency, so
//! the emulator's one thread is not what is measured (events, the ledger, S3, SES and SQS stay
//! on moto). The request runs as Lambda runs it: from a real queue, each invocation given the
//! template's `Timeout` (150 s; `--invocation-secs N` to change it), a long request continuing
//! in new messages until it is done. `MAX_ROWS` is left at its default (no cap), every invite
//! is checked published exactly once, and the process's peak RSS is reported (the list
//! generated here is dropped before the first invocation). `--sns-quota N` gives the topic a publish quota of N messages a
//! second (SNS's 300 or 1,500 in smaller regions), past which the test client throttles.

#[path = "../tests/it/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::faults::{FaultyClient, LocalSns, PublishFaults, Quota};
use common::queue::Queue;
use common::*;
use lambda_runtime::{Context, LambdaEvent};

const LATENCY: Duration = Duration::from_millis(25);
const EVENTS: [&str; 3] = ["e1", "e2", "e3"];
/// The function's `Timeout` in template.yaml: what each invocation of `--local` gets.
const TEMPLATE_TIMEOUT: Duration = Duration::from_secs(150);

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

/// A list of `rows` rows for the three events.
fn list(rows: usize, short: bool) -> String {
    let mut csv = String::from(if short {
        "uid,email\n"
    } else {
        "uid,email,name\n"
    });
    for i in 0..rows {
        if short {
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
    csv
}

/// The calls made, by operation, and the latency-bound ideal for them: calls that wait on each
/// other (read the email, authorize, claim, final checkpoint, summary, completion, and a
/// continuation's message) one after another, the rest `max_in_flight` at a time (periodic
/// checkpoints run beside the publishing).
struct Calls {
    by_op: std::collections::BTreeMap<String, u64>,
    total: u64,
    serial: u64,
}

impl Calls {
    fn of(f: &Fixture, invocations: u64) -> Self {
        let by_op = f.app.aws.calls().snapshot();
        let count = |op: &str| by_op.get(op).copied().unwrap_or(0);
        let serial = count("S3.GetObject")
            + count("DynamoDB.GetItem")
            + count("SESv2.SendEmail")
            + count("SQS.SendMessage")
            + 3 * invocations;
        let total = by_op.values().sum();
        Self {
            by_op,
            total,
            serial,
        }
    }

    fn ideal(&self, latency: Duration, max_in_flight: usize) -> f64 {
        let parallel = self.total - self.serial;
        latency.as_secs_f64() * (self.serial as f64 + parallel as f64 / max_in_flight as f64)
    }
}

fn ratio(wall: f64, ideal: f64) -> String {
    if ideal > 0.0 {
        format!("{:.2}", wall / ideal)
    } else {
        "n/a".into()
    }
}

/// One request of `rows` rows through the handler in one invocation, moto answering everything.
async fn run(rows: usize, latency: Duration) -> f64 {
    let mut f = Fixture::new("latency").await;
    for uid in EVENTS {
        f.seed_event(uid, &f.sender).await;
    }
    let max_in_flight = f.app.config.max_in_flight;
    let faulty = FaultyClient::around_default(PublishFaults {
        latency,
        ..PublishFaults::default()
    });
    f.configure(|c| c.max_in_flight = max_in_flight);
    f.route_through(&faulty);
    let key = format!("bulk_event_invites_email/{}", unique("latency"));
    f.put_email(
        &key,
        email_with_csv(&f.sender, list(rows, false).as_bytes()),
    )
    .await;
    let event = sqs_event(&[sns_wrapped(&s3_event(&f.bucket, &encode_key(&key)))]);
    let mut context = Context::default();
    context.request_id = unique("bench");
    context.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 900_000;

    let (cpu_before, started) = (cpu_time(), Instant::now());
    let response = bulk_invites::handler::handle(&f.app, LambdaEvent::new(event, context))
        .await
        .unwrap();
    let (wall, cpu) = (started.elapsed(), cpu_time() - cpu_before);
    assert!(
        response.batch_item_failures.is_empty(),
        "the request completed"
    );
    let calls = Calls::of(&f, 1);
    let ideal = calls.ideal(latency, max_in_flight);
    println!(
        "rows {rows} at {} ms a call: wall {:.2} s, ideal {ideal:.2} s, ratio {}, calls {} ({} serial, {} parallel at {max_in_flight}), CPU {:.2} s per 10,000 rows; {:?}",
        latency.as_millis(),
        wall.as_secs_f64(),
        ratio(wall.as_secs_f64(), ideal),
        calls.total,
        calls.serial,
        calls.total - calls.serial,
        cpu.as_secs_f64() * 10_000.0 / rows as f64,
        calls.by_op,
    );
    wall.as_secs_f64()
}

/// One request of `rows` short rows from a real queue, SNS and block lookups answered locally,
/// each invocation given `invocation` before its deadline.
async fn run_local(rows: usize, invocation: Duration, quota: Option<f64>) {
    let mut f = Fixture::new("million").await;
    for uid in EVENTS {
        f.seed_event(uid, &f.sender).await;
    }
    let max_in_flight = f.app.config.max_in_flight;
    let max_receives = f.app.config.limits.max_receives;
    let faulty = FaultyClient::around_default(PublishFaults {
        latency: LATENCY,
        local_sns: Some(LocalSns {
            marker: "g",
            quota: quota.map(Quota::per_second),
            ..LocalSns::default()
        }),
        local_blocks: true,
        ..PublishFaults::default()
    });
    f.configure(|c| c.max_in_flight = max_in_flight);
    f.route_through(&faulty);
    let queue = Queue::new(&f, max_receives).await;
    let key = format!("bulk_event_invites_email/{}", unique("million"));
    let email = email_with_csv(&f.sender, list(rows, true).as_bytes());
    let email_mb = email.len() as f64 / 1e6;
    f.put_email(&key, email).await;
    queue
        .send(&sns_wrapped(&s3_event(&f.bucket, &encode_key(&key))))
        .await;

    // The peak from here on is the handler's: building the list above is not (Linux resets
    // VmHWM when 5 is written to clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let at_start = peak_rss_mib();
    let (cpu_before, started) = (cpu_time(), Instant::now());
    let budget = invocation.as_millis() as u64;
    let run = queue.drive(&f, budget, 50, async |_| {}).await;
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_time() - cpu_before);
    assert_eq!((run.returned, run.dead), (0, 0), "{run:?}");

    let invocations = run.invocations as u64;
    let calls = Calls::of(&f, invocations);
    let ideal = calls.ideal(LATENCY, max_in_flight);
    println!(
        "rows {rows} ({email_mb:.1} MB email) at {} ms a call, {} s an invocation: {} invocations, wall {wall:.2} s; ideal for the calls made {ideal:.2} s, ratio {}; calls {} ({} serial, {} parallel at {max_in_flight}); CPU {:.2} s per 10,000 rows (the local answers' included); {:?}",
        LATENCY.as_millis(),
        invocation.as_secs(),
        run.invocations,
        ratio(wall, ideal),
        calls.total,
        calls.serial,
        calls.total - calls.serial,
        cpu.as_secs_f64() * 10_000.0 / rows as f64,
        calls.by_op,
    );
    let faults = faulty.faults.lock().unwrap();
    let sns = faults.local_sns.as_ref().unwrap();
    if let Some(quota) = &sns.quota {
        println!(
            "rows {rows}: SNS quota {} messages a second, {} calls throttled, {:.0} invites a second on average",
            quota.per_second,
            quota.throttled,
            rows as f64 / wall
        );
    }
    let once = sns.published == rows as u64 && sns.distinct() == rows as u64 && sns.repeats == 0;
    let summaries = f.emails().len();
    println!(
        "rows {rows}: {} invites published, {} distinct, {} repeated, exactly once: {once}; {summaries} summary; {} block lookups answered locally; peak RSS {:.1} MiB ({at_start:.1} MiB before the first invocation)",
        sns.published,
        sns.distinct(),
        sns.repeats,
        faults.local_block_calls,
        peak_rss_mib()
    );
    assert!(once && summaries == 1, "every invite once, one summary");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` (the test command) runs this
    // binary without it, and a benchmark has no place there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("latency: a benchmark; run it with `cargo bench --bench latency`");
        return;
    }
    // The sizes are the first argument that is neither a flag nor a flag's value.
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .scan(false, |after_flag, a| {
            let value =
                std::mem::replace(after_flag, a == "--invocation-secs" || a == "--sns-quota");
            Some((value, a))
        })
        .find_map(|(value, a)| (!value && !a.starts_with('-')).then_some(a))
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let args: Vec<String> = std::env::args().collect();
    let local = args.iter().any(|a| a == "--local");
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1)?.parse::<u64>().ok()
    };
    let invocation = value("--invocation-secs").map_or(TEMPLATE_TIMEOUT, Duration::from_secs);
    let quota = value("--sns-quota").map(|n| n as f64);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for rows in sizes {
        if local {
            runtime.block_on(run_local(rows, invocation, quota));
            continue;
        }
        // moto alone (no added latency) shows how much of the wall time is the emulator's own:
        // one Python process answers the 8 concurrent calls one after another.
        let alone = runtime.block_on(run(rows, Duration::ZERO));
        let wall = runtime.block_on(run(rows, LATENCY));
        println!("rows {rows}: the emulator alone took {alone:.2} s of the {wall:.2} s");
    }
}
