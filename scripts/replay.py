"""Replaying the sample events through cargo lambda, as a developer does on day one.

    replay.py seed            seeds the demo world on the moto server at AWS_ENDPOINT_URL
    replay.py env FILE        writes the function's environment for `cargo lambda watch --env-file`
    replay.py check           the test: for every events/*.json, reset and seed moto, invoke the
                              function through a running `cargo lambda watch`, and assert what was
                              published and mailed, and the request's EMF metrics line

`check` expects `cargo lambda watch` to be running already (scripts/replay-check.sh starts it);
WATCH_LOG is the file its output goes to.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]

# What each sample does (docs/development.md "Replaying events with cargo lambda").
EXPECTED = {
    "sqs-sns-s3.json": {"invites": 3, "summaries": 1, "failures": 0, "requests": 1},
    "sqs-raw-s3.json": {"invites": 3, "summaries": 1, "failures": 0, "requests": 1},
    "sqs-s3-test-event.json": {"invites": 0, "summaries": 0, "failures": 0, "requests": 1},
    "sqs-two-records.json": {"invites": 5, "summaries": 2, "failures": 0, "requests": 2},
}


def function_env():
    return {
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": demo.REGION,
        "THIRTYONE_TABLE": demo.TABLE,
        "NEW_EVENT_INVITE": f"arn:aws:sns:{demo.REGION}:123456789012:send-bulk-event-invite",
        "SYSTEM_EMAIL": demo.SYSTEM_EMAIL,
        "LOG_LEVEL": "info",
    }


def write_env(path):
    lines = [f'{key}="{value}"' for key, value in function_env().items()]
    Path(path).write_text("\n".join(lines) + "\n")


def reset_and_seed():
    request = urllib.request.Request(ENDPOINT + "/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).read()
    return demo.set_up()


def emf_lines(log_text):
    lines = []
    for line in log_text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"_aws"' in line:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return lines


def check():
    cargo_lambda = os.environ.get("CARGO_LAMBDA", "cargo-lambda")
    watch_log = Path(os.environ["WATCH_LOG"])
    failures = []
    for name, expected in EXPECTED.items():
        topic_arn, _ = reset_and_seed()
        emf_before = len(emf_lines(watch_log.read_text(errors="replace")))
        result = subprocess.run(
            [cargo_lambda, "lambda", "invoke", "bulk-invites", "--invoke-port",
             os.environ.get("INVOKE_PORT", "9000"), "--data-file", str(ROOT / "events" / name)],
            capture_output=True, text=True, timeout=600,
        )
        if result.returncode != 0:
            failures.append(f"{name}: invoke failed: {result.stderr.strip()[-500:]}")
            continue
        response = json.loads(result.stdout)
        state = demo.fetch_state()
        invites = sum(len(t["sent_notifications"]) for t in state["sns"]["Topic"] if t["arn"] == topic_arn)
        summaries = len([m for m in state["ses"]["RawMessage"] if demo.ORGANIZER in m["destinations"]])
        time.sleep(0.5)  # cargo lambda watch relays the function's output line by line
        metrics = emf_lines(watch_log.read_text(errors="replace"))[emf_before:]
        got = {
            "invites": invites, "summaries": summaries,
            "failures": len(response.get("batchItemFailures", [])), "requests": len(metrics),
        }
        sent_in_metrics = sum(m.get("InvitesSent", 0) for m in metrics)
        # One request of these samples makes 9 AWS calls; a count of the whole batch's calls
        # (the bug this guards against) would show 18 on each line of the two-record batch.
        own_calls = all(m.get("AwsCalls", 0) <= 12 for m in metrics)
        ok = got == expected and sent_in_metrics == expected["invites"] and own_calls
        status = "ok" if ok else "FAILED"
        print(f"{name}: {json.dumps(got)} (expected {json.dumps(expected)}), "
              f"EMF InvitesSent {sent_in_metrics}, AwsCalls {[m.get('AwsCalls') for m in metrics]}: {status}",
              flush=True)
        if status != "ok":
            failures.append(name)
    if failures:
        sys.exit(f"replay through cargo lambda failed: {failures}")
    print("every sample gave its documented outcome through cargo lambda")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "seed":
        topic_arn, queue_url = demo.set_up()
        print(f"seeded: table {demo.TABLE}, bucket {demo.BUCKET}, topic {topic_arn}")
    elif command == "env":
        write_env(sys.argv[2])
    elif command == "check":
        check()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
