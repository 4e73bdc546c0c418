//! A stand-in for the Lambda Runtime API on loopback, so a test can run the real binary as
//! Lambda runs it (poll for an event, handle it, post the response) and read what it printed.
//!
//! One event per run: the first `GET .../invocation/next` gets it, later polls are held open as
//! Lambda holds them between invocations, and the binary is stopped once it has answered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one invocation of the binary left behind.
pub struct Invocation {
    /// The body the binary posted as its response (the partial-batch response).
    pub response: String,
    /// The request id the binary was given.
    pub request_id: String,
    /// Every line it wrote to stderr (the log).
    pub stderr: Vec<String>,
    /// Every line it wrote to stdout (the EMF metrics).
    pub stdout: Vec<String>,
    /// Its peak resident memory (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// From start to its answer.
    pub elapsed: Duration,
}

/// Runs the binary on `event` with `env` (plus the variables Lambda sets) until it answers,
/// its address space capped at `cap_kib` (`ulimit -v`) when given, so a runaway allocation
/// stops the binary and not the machine.
pub fn invoke_binary_capped(
    event: &str,
    env: &[(&str, String)],
    cap_kib: Option<u64>,
) -> Invocation {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
    let address = listener.local_addr().unwrap().to_string();
    let request_id = format!(
        "{:032x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (responses, response) = mpsc::channel();
    let served = event.to_string();
    let id = request_id.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for stream in listener.incoming().flatten() {
            let (event, id, responses) = (served.clone(), id.clone(), responses.clone());
            let first = !sent;
            sent = true;
            std::thread::spawn(move || serve(stream, first.then_some(event), &id, responses));
        }
    });

    let binary = env!("CARGO_BIN_EXE_bulk-invites");
    let mut command = match cap_kib {
        None => Command::new(binary),
        Some(cap) => {
            let mut shell = Command::new("/bin/sh");
            shell.args(["-c", &format!("ulimit -v {cap} && exec \"$0\""), binary]);
            shell
        }
    };
    let started = std::time::Instant::now();
    let mut child = command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bulk-invites")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bulk-invites")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let answer = response.recv_timeout(Duration::from_secs(170));
    let elapsed = started.elapsed();
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let output = child
        .wait_with_output()
        .expect("collect the binary's output");
    let lines = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let stderr = lines(&output.stderr);
    Invocation {
        response: answer.unwrap_or_else(|_| panic!("the binary did not answer: {stderr:#?}")),
        request_id,
        stderr,
        stdout: lines(&output.stdout),
        peak_rss_kib,
        elapsed,
    }
}

/// Serves one keep-alive connection of the runtime client.
fn serve(stream: TcpStream, mut event: Option<String>, id: &str, responses: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();
        if path.ends_with("/invocation/next") {
            let Some(event) = event.take() else {
                // Held open, as Lambda holds a poll between invocations.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 150_000;
            let headers = format!(
                "Content-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-west-2:123456789012:function:bulk-invites\r\n"
            );
            reply(&mut writer, "200 OK", &headers, event.as_bytes());
        } else {
            reply(&mut writer, "202 Accepted", "", b"{}");
            if path.ends_with("/response") {
                let _ = responses.send(String::from_utf8_lossy(&body).into_owned());
            } else {
                let _ = responses.send(format!(
                    "error posted to {path}: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
    }
}

fn reply(writer: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(body);
    let _ = writer.flush();
}
