"""The main job, end to end on the local emulator: a real bulk request through the real binary.

Creates the table, inbound bucket, invite topic (with a subscribed queue) and SES identity on
moto server; seeds an authorized organizer, two events and a block record; uploads the sample
requests from events/requests/; runs the release `bootstrap` binary against a loopback Runtime
API that hands it an SQS event from events/; prints what was published and the summary emails.

Run through `make demo`, which starts and stops moto and sets AWS_ENDPOINT_URL.
"""

import email
import email.policy
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
from runtime_stub import RuntimeStub, lambda_environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-west-2"
BUCKET = "bulk-invites-demo-inbound"  # the bucket the sample events name
TABLE = "calendarsnack-demo"
ORGANIZER = "organizer@example.com"
SYSTEM_EMAIL = "Calendar Snack <notification@calendarsnack.com>"
# S3 key (as SES would store it) -> sample file
REQUESTS = {
    "bulk_event_invites_email/team-offsite-request": "team-offsite-request.eml",
    "bulk_event_invites_email/launch list (final).eml": "launch-list-final.eml",
}


def client(service):
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def set_up():
    """Creates and seeds the demo world; returns the invite topic's ARN and its queue's URL."""
    dynamodb, s3, sns, sqs = client("dynamodb"), client("s3"), client("sns"), client("sqs")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    put = lambda item: dynamodb.put_item(  # noqa: E731
        TableName=TABLE,
        Item={k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in item.items()},
    )
    put({"pk": f"organizer#{ORGANIZER}", "sk": f"bulk#{ORGANIZER}"})
    for uid, summary, start in [
        ("team-offsite-2026", "Team offsite", 1780300800),
        ("product-launch-2026", "Product launch", 1782892800),
    ]:
        put({
            "pk": f"event#{uid}", "sk": f"event#{uid}", "uid": uid, "mailto": ORGANIZER,
            "organizer": "Olivia Organizer", "summary": summary, "location": "Example Hall",
            "description": f"{summary} details", "description_html": f"<p>{summary} details</p>",
            "dtstart": start, "dtend": start + 3600, "sequence": 0, "status": "CONFIRMED",
        })
    put({"pk": "attendee#blocked@example.com", "sk": f"block#{ORGANIZER}"})

    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, name in REQUESTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=(ROOT / "events" / "requests" / name).read_bytes())

    topic_arn = sns.create_topic(Name="send-bulk-event-invite")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="send-bulk-event-invite")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    client("sesv2").create_email_identity(EmailIdentity="calendarsnack.com")
    return topic_arn, queue_url


def run_binary(event_file, topic_arn):
    event = json.loads((ROOT / "events" / event_file).read_text())
    stub = RuntimeStub([event])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "REGION": REGION,
        "THIRTYONE_TABLE": TABLE,
        "NEW_EVENT_INVITE": topic_arn,
        "SYSTEM_EMAIL": SYSTEM_EMAIL,
        "LOG_LEVEL": "info",
        **lambda_environment(stub.address),
    }
    # DEMO_BINARY / DEMO_RUNNER: another build of the function and what runs it (make arm64:
    # the arm64 bootstrap under qemu-aarch64).
    binary = os.environ.get("DEMO_BINARY", str(ROOT / "target" / "release" / "bulk-invites"))
    runner = os.environ.get("DEMO_RUNNER", "").split()
    started = time.monotonic()
    process = subprocess.Popen([*runner, binary], env=env)
    try:
        if not stub.done.wait(120):
            sys.exit("the function did not answer within 120 s")
    finally:
        process.terminate()
        process.wait()
        stub.close()
    if stub.errors:
        sys.exit(f"the function reported an error: {stub.errors}")
    return stub.responses[0], time.monotonic() - started


def main():
    event_file = sys.argv[1] if len(sys.argv) > 1 else "sqs-two-records.json"
    topic_arn, queue_url = set_up()
    print(f"== Invoking the release binary with events/{event_file}")
    response, seconds = run_binary(event_file, topic_arn)
    print(f"\n== Batch response ({seconds:.2f} s): {json.dumps(response)}")

    state = fetch_state()
    messages = [n[1] for t in state["sns"]["Topic"] if t["arn"] == topic_arn for n in t["sent_notifications"]]
    print(f"\n== {len(messages)} invites published to {topic_arn}")
    for message in messages:
        inner = json.loads(json.loads(message)["default"])
        print(json.dumps(inner["request"]), "| event:", inner["event"]["summary"])
    queued = int(client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"])
    print(f"   (the subscribed queue holds {queued} messages for send_bulk_event_invite)")

    summaries = [m for m in state["ses"]["RawMessage"] if ORGANIZER in m["destinations"]]
    print(f"\n== {len(summaries)} summary emails to {ORGANIZER}")
    for raw in summaries:
        message = email.message_from_string(raw["raw_data"], policy=email.policy.default)
        print(f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n")
        print(message.get_body(preferencelist=("plain",)).get_content())
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            out = ROOT / ".tmp" / "demo" / f"summary-{summaries.index(raw) + 1}.html"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(html.get_content())
            print(f"(the HTML part: {out})\n")
    if not messages or not summaries:
        sys.exit("demo failed: nothing was published or no summary was sent")


def fetch_state():
    """Everything moto recorded: the topic's published messages, the emails SES sent."""
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/data.json") as reply:
        return json.loads(reply.read())


if __name__ == "__main__":
    main()
