"""Scale and cold-start benchmark of the release binary against moto server.

For each size N it generates a request of N attendee rows over 3 events (about 1 % of the
attendees have blocked the organizer, about 0.5 % of the rows carry an invalid address),
uploads it as SES would store it, runs the real binary through a loopback Runtime API, and
prints: wall time of the invocation, AWS round trips by operation (from moto's own request
recorder, so retries count too), invites published, whether each valid invite was published
exactly once (checked message by message from moto's record of the topic), and peak RSS.
Then it times the cold start: process start to the first poll of the Runtime API.

Run through `make bench` (scripts/bench.sh), which starts moto with recording enabled.
"""

import argparse
import base64
import io
import zipfile
import collections
import json
import math
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
from runtime_stub import RuntimeStub, lambda_environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "bulk-invites"
REGION = "us-west-2"
TABLE, BUCKET, TOPIC = "bench-table", "bench-inbound", "bench-invites"
ORGANIZER = "organizer@example.com"
EVENTS = ["team-offsite-2026", "product-launch-2026", "customer-summit-2026"]
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]


def moto(path, method="GET"):
    request = urllib.request.Request(ENDPOINT + path, method=method)
    with urllib.request.urlopen(request, timeout=600) as reply:
        return reply.read()


def client(service):
    return boto3.client(service, region_name=REGION, endpoint_url=ENDPOINT)


def generate(n):
    """CSV text and the (uid, email) pairs that must be published, plus the blocked addresses."""
    lines = ["uid,email,name"]
    expected, blocked = [], []
    for i in range(n):
        uid = EVENTS[i % len(EVENTS)]
        if i % 200 == 199:
            lines.append(f"{uid},attendee{i}.example.com,Broken Row {i}")
            continue
        email = f"attendee{i}@example.com"
        lines.append(f'{uid},{email},"Attendee {i}, Example"')
        if i % 100 == 42:
            blocked.append(email)
        else:
            expected.append((uid, email))
    return "\r\n".join(lines) + "\r\n", expected, blocked


def email_bytes(csv_text):
    return email_with_attachment("list.csv", "text/csv", csv_text.encode())


def set_up(blocked, raw_email, key):
    moto("/moto-api/reset", "POST")
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=ENDPOINT).Table(TABLE)
    with table.batch_writer() as batch:
        batch.put_item(Item={"pk": f"organizer#{ORGANIZER}", "sk": f"bulk#{ORGANIZER}"})
        for n, uid in enumerate(EVENTS):
            batch.put_item(Item={
                "pk": f"event#{uid}", "sk": f"event#{uid}", "uid": uid, "mailto": ORGANIZER,
                "organizer": "Olivia Organizer", "summary": f"Event {n}", "location": "Example Hall",
                "description": "Details " * 20, "description_html": "<p>Details</p>" * 10,
                "dtstart": 1780300800 + n * 86400, "dtend": 1780304400 + n * 86400,
                "sequence": 0, "status": "CONFIRMED",
                # Every event item carries its quota; this one does not bind the request.
                "invite_limit": 1_000_000,
            })
        for email in blocked:
            batch.put_item(Item={"pk": f"attendee#{email}", "sk": f"block#{ORGANIZER}"})
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key=key, Body=raw_email)
    client("sesv2").create_email_identity(EmailIdentity="calendarsnack.com")
    return client("sns").create_topic(Name=TOPIC)["TopicArn"]


def sqs_event(key):
    s3_event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench",
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": key, "size": 1, "eTag": "bench", "sequencer": "01"}}}]}
    return {"Records": [{"messageId": "bench-1", "receiptHandle": "r", "body": json.dumps(s3_event),
                         "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:bench", "awsRegion": REGION}]}


def function_env(topic_arn, runtime_address):
    return {
        "PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
        "THIRTYONE_TABLE": TABLE, "NEW_EVENT_INVITE": topic_arn,
        "SYSTEM_EMAIL": "Calendar Snack <notification@calendarsnack.com>", "LOG_LEVEL": "warn",
        **({"MAX_IN_FLIGHT": os.environ["MAX_IN_FLIGHT"]} if "MAX_IN_FLIGHT" in os.environ else {}),
        **lambda_environment(runtime_address),
    }


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def operation(entry):
    """Names the AWS operation of one recorded request."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    target = headers.get("x-amz-target", "")
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if target.startswith("DynamoDB_"):
        return "DynamoDB." + target.split(".", 1)[1]
    if body.startswith("Action="):
        return "SNS." + body.split("&", 1)[0].split("=", 1)[1]
    if "/v2/email/outbound-emails" in entry["url"]:
        return "SESv2.SendEmail"
    if entry["method"] == "GET":
        return "S3.GetObject"
    return f"other {entry['method']} {entry['url'][:60]}"


def invoke_binary(key, topic_arn, label):
    """Runs the release binary on one notification for `key` through the loopback Runtime API;
    returns the wall time from handing the event out to the answer, and the peak RSS in KiB.
    Exits when the function fails or does not answer."""
    stub = RuntimeStub([sqs_event(key)])
    # Capped at 1 GiB of address space, so a runaway allocation stops the binary, not the machine.
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # noqa: E731
    process = subprocess.Popen([str(BINARY)], env=function_env(topic_arn, stub.address), preexec_fn=cap)
    while stub.first_poll_ns is None:
        time.sleep(0.001)
    handed_out = time.monotonic_ns()
    if not stub.done.wait(900):
        process.kill()
        sys.exit(f"{label}: no answer in 900 s")
    wall = (time.monotonic_ns() - handed_out) / 1e9
    rss = peak_rss_kib(process.pid)
    process.terminate()
    process.wait()
    stub.close()
    if stub.errors or stub.responses[0] != {"batchItemFailures": []}:
        sys.exit(f"{label}: function failed: {stub.errors or stub.responses}")
    return wall, rss


def run_size(n):
    csv_text, expected, blocked = generate(n)
    raw = email_bytes(csv_text)
    key = f"bulk_event_invites_email/bench-{n}"
    topic_arn = set_up(blocked, raw, key)
    moto("/moto-api/recorder/reset-recording", "POST")
    moto("/moto-api/recorder/start-recording", "POST")

    wall, rss = invoke_binary(key, topic_arn, f"N={n}")
    moto("/moto-api/recorder/stop-recording", "POST")

    recording = moto("/moto-api/recorder/download-recording").decode()
    calls = collections.Counter(operation(json.loads(line)) for line in recording.splitlines() if line.strip())

    state = json.loads(moto("/moto-api/data.json"))
    messages = [m[1] for t in state["sns"]["Topic"] if t["arn"] == topic_arn for m in t["sent_notifications"]]
    published = collections.Counter()
    for message in messages:
        inner = json.loads(json.loads(message)["default"])
        published[(inner["request"]["uid"], inner["request"]["email"])] += 1
    exactly_once = published == collections.Counter(expected)
    emails = [m for m in state["ses"]["RawMessage"] if ORGANIZER in m["destinations"]]

    distinct_attendees = len({email for _, email in expected} | set(blocked))
    publishes = math.ceil(len(expected) / 10)
    # ledger: 1 claim + 1 checkpoint per 20 batches (CHECKPOINT_EVERY_BATCHES) + 1 final
    # checkpoint + 1 summary attempt counted + 1 completion, + 1 write keeping who blocked the
    # organizer when the list has 1,000 addresses or more (src/decision/blocked.rs)
    bookkeeping = 1 + publishes // 20 + 1 + 1 + 1 + (1 if distinct_attendees >= 1_000 else 0)
    # 1 S3 GET + 1 BatchGetItem for the sender's standing (authorization and suspension) + lookups
    budget = 1 + 1 + math.ceil(distinct_attendees / 100) + math.ceil(len(EVENTS) / 100) + publishes + 1 + bookkeeping
    return {
        "rows": n, "csv_bytes": len(csv_text), "email_bytes": len(raw), "wall_s": round(wall, 3),
        "calls": dict(sorted(calls.items())), "calls_total": sum(calls.values()), "budget": budget,
        "expected_invites": len(expected), "published": len(messages),
        "exactly_once": exactly_once, "summaries": len(emails), "peak_rss_mib": round(rss / 1024, 1),
    }


def memory_case(name):
    """The inputs of issue 8's memory bound, each as large as MAX_OBJECT_BYTES (40 MiB) allows.

    - rows: 1.2 million short rows (a 28 MB email), each its own uid and an invalid address:
      every row is read and rejected; the first 100,000 are kept for the summary, the rest
      counted (before issue 20, rows past MAX_ROWS = 100,000 were not read).
    - giant-cell: one row whose name cell is 29 MB (a 40 MB email).
    """
    if name == "rows":
        lines = ["uid,email"] + [f"u{i},x{i}" for i in range(1_200_000)]
        return "\r\n".join(lines) + "\r\n"
    if name == "giant-cell":
        return f"uid,email,name\r\n{EVENTS[0]},giant@example.com,\"" + "x" * 29_000_000 + "\"\r\n"
    raise ValueError(name)


def xlsx_bytes(sheet_rows_xml, shared_strings_xml=None, sheets=1, unique_count=None):
    """A minimal .xlsx around `sheet_rows_xml`, the <sheetData> content: `sheets` sheets, every
    one naming the same part, and `unique_count` declared on the shared strings when given."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            + "".join(f'<sheet name="Guests{n or ""}" sheetId="{n + 1}" r:id="rId1"/>' for n in range(sheets))
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
               if shared_strings_xml else "")
            + "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData>{sheet_rows_xml}</sheetData></worksheet>',
    }
    if shared_strings_xml:
        declared = f' uniqueCount="{unique_count}"' if unique_count else ""
        files["xl/sharedStrings.xml"] = f'<?xml version="1.0"?><sst {ns}{declared}>{shared_strings_xml}</sst>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def spreadsheet_case(name):
    """Spreadsheet bombs (issue 12), each within MAX_OBJECT_BYTES on the wire:

    - sheet-empty-rows: a header, then 900,000 empty rows (a 64 MB sheet inside a 7 MB zip,
      just under the XML limit), then one attendee: read, within the text budget.
    - sheet-shared-strings: a million distinct shared strings (60 MB of XML inside): read.
    - sheet-zip-bomb: 300 MB of XML inside a zip of about 300 KB: refused after 64 MB.
    """
    header = ('<row r="1"><c r="A1" t="inlineStr"><is><t>uid</t></is></c>'
              '<c r="B1" t="inlineStr"><is><t>email</t></is></c></row>')
    if name == "sheet-empty-rows":
        empty = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t></t></is></c></row>'
                        for r in range(2, 900_002))
        last = (f'<row r="900002"><c r="A900002" t="inlineStr"><is><t>{EVENTS[0]}</t></is></c>'
                '<c r="B900002" t="inlineStr"><is><t>last@example.com</t></is></c></row>')
        return xlsx_bytes(header + empty + last)
    if name == "sheet-shared-strings":
        strings = "".join(f"<si><t>string number {i:010d} of a large table</t></si>" for i in range(1_000_000))
        rows = header + (f'<row r="2"><c r="A2" t="inlineStr"><is><t>{EVENTS[0]}</t></is></c>'
                         '<c r="B2" t="s"><v>7</v></c></row>')
        return xlsx_bytes(rows, strings)
    if name == "sheet-zip-bomb":
        return xlsx_bytes(header + "<!--" + "0" * 300_000_000 + "-->")
    # Issue 17: counts the workbook declares, read before calamine allocates from them.
    if name == "sheet-sst-1e11":
        return xlsx_bytes(header, "<si><t>a</t></si>", unique_count="99999999999")
    if name == "sheet-sst-usize-max":
        return xlsx_bytes(header, "<si><t>a</t></si>", unique_count="18446744073709551615")
    if name == "sheet-ole-header":
        return bytes.fromhex("d0cf11e0a1b11ae1") + xlsx_bytes(header)
    if name == "sheet-3000-sheets":
        return xlsx_bytes(header + "<!--" + "0" * (8 << 20) + "-->", sheets=3000)
    if name == "sheet-empty-shared-strings":
        return xlsx_bytes(header, "<si><t/></si>" * ((63 << 20) // 13))
    if name == "sheet-150-workbooks":
        return xlsx_bytes(header + "<!--" + "0" * (63 << 20) + "-->")
    raise ValueError(name)


def ods_case(name):
    """`.ods` used areas a raw reader underestimates (issue 17): repeats written as character
    references, and self-closing cells with a value but no value type."""
    cell = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
    rows = {
        "ods-escaped-repeats": f'<table:table-row>{cell}</table:table-row>'
        '<table:table-row table:number-rows-repeated="&#49;048000"><table:table-cell/></table:table-row>'
        f'<table:table-row>{cell}</table:table-row>',
        "ods-valued-cells": '<table:table-row table:number-rows-repeated="1000">'
        '<table:table-cell office:value="1" table:number-columns-repeated="16384"/></table:table-row>',
    }[name]
    content = (
        '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        f'<office:body><office:spreadsheet><table:table table:name="S">{rows}</table:table></office:spreadsheet>'
        "</office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
    return out.getvalue()


def biff(typ, data):
    """One BIFF record."""
    return struct.pack("<HH", typ, len(data)) + data


def xls_stream(rows):
    """A BIFF8 workbook stream of one sheet "Guests": each row a list of strings, written as
    shared strings (as Excel writes them)."""
    strings, index, body = [], {}, [biff(0x0809, struct.pack("<HH", 0x0600, 0x10) + bytes(12))]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if text not in index:
                index[text] = len(strings)
                strings.append(text)
            body.append(biff(0x00FD, struct.pack("<HHHI", r, c, 0, index[text])))
    body.append(biff(0x000A, b""))
    # The shared strings, compressed (one byte a character), in records of at most 8,224 bytes;
    # a string's header is never split, its characters are, each part flagged.
    parts, current = [], bytearray(struct.pack("<II", len(strings), len(strings)))
    for text in strings:
        chars = text.encode("latin-1")
        if 8224 - len(current) < 3:
            parts.append(current)
            current = bytearray()
        current += struct.pack("<HB", len(chars), 0)
        while chars:
            take = min(8224 - len(current), len(chars))
            current += chars[:take]
            chars = chars[take:]
            if chars:
                parts.append(current)
                current = bytearray(b"\x00")
    parts.append(current)
    table = biff(0x00FC, bytes(parts[0])) + b"".join(biff(0x003C, bytes(p)) for p in parts[1:])
    bof = biff(0x0809, struct.pack("<HH", 0x0600, 0x05) + bytes(12))
    name = b"Guests"
    bound_len = len(biff(0x0085, bytes(6 + 2 + len(name))))
    start = len(bof) + bound_len + len(table) + 4
    bound = biff(0x0085, struct.pack("<IBBBB", start, 0, 0, len(name), 0) + name)
    return bof + bound + table + biff(0x000A, b"") + b"".join(body)


def compound_file(stream):
    """`stream` as the `Workbook` stream of an OLE compound file (version 4, 4,096-byte
    sectors, the stream in regular sectors), as Excel stores an `.xls`."""
    size, free, end, fat_mark = 4096, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    stream = stream + bytes(max(0, 4096 - len(stream)))  # under 4,096 bytes goes to a mini stream
    n = -(-len(stream) // size)
    fats = 1
    while fats * 1024 < n + 1 + fats:
        fats += 1
    assert fats <= 109, "a DIFAT would be needed"
    directory = n
    fat = [i + 1 for i in range(n - 1)] + [end, end] + [fat_mark] * fats
    fat += [free] * (fats * 1024 - len(fat))

    def entry(name, typ, child, start, length):
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), typ, 1)
                + struct.pack("<III", free, free, child) + bytes(16 + 4 + 16)
                + struct.pack("<IQ", start, length))

    entries = entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, free, 0, len(stream))
    entries += b"".join(entry("", 0, free, 0, 0) for _ in range(30))
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 4, 0xFFFE, 12, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 1, fats, directory, 0, 4096, end, 0, end, 0)
              + b"".join(struct.pack("<I", directory + 1 + i) for i in range(fats))
              + struct.pack("<I", free) * (109 - fats))
    body = stream.ljust(n * size, b"\0") + entries + b"".join(struct.pack("<I", x) for x in fat)
    return header.ljust(size, b"\0") + body


def xls_case(name):
    """`.xls` workbooks (issue 19): the heaviest honest one, and shapes calamine would build
    without bound.

    - xls-full-sheet: 65,536 rows (Excel 97's most) of uid, email, name; every row its own uid
      and an address that is not one, so every row is read and reported and none published.
    - xls-far-corner: a header, and one number at row 65,536, column 65,536 (calamine: a
      137 GB rectangle).
    - xls-declared-labels: 30,000 cells each declaring 65,535 characters and holding one
      (calamine: 64 KB reserved each, 1.9 GB).
    """
    header = ["uid", "email", "name"]
    if name == "xls-full-sheet":
        return compound_file(xls_stream([header] + [[f"u{i}", f"x{i}", f"Guest {i}"] for i in range(1, 65_536)]))
    stream = xls_stream([header])
    eof = biff(0x000A, b"")
    if name == "xls-far-corner":
        extra = biff(0x0203, struct.pack("<HHHd", 65_535, 65_535, 0, 1.0))
    elif name == "xls-declared-labels":
        extra = b"".join(biff(0x0204, struct.pack("<HHHHB", r, 9, 0, 65_535, 0) + b"x") for r in range(30_000))
    else:
        raise ValueError(name)
    return compound_file(stream[: -len(eof)] + extra + eof)


def email_with_attachment(file_name, content_type, data, copies=1):
    """An email with `data` attached `copies` times (`guests-001.xlsx`, … when more than one)."""
    encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
    names = [file_name] if copies == 1 else [file_name.replace(".", f"-{n:03}.") for n in range(copies)]
    parts = "".join(
        f'--b\r\nContent-Type: {content_type}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
        for name in names
    )
    return (
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n"
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=organizer@example.com;\r\n"
        " dkim=pass header.i=@example.com;\r\n dmarc=pass header.from=example.com;\r\n"
        f"X-SES-RECEIPT: AEFBQUFB\r\nFrom: {ORGANIZER}\r\n"
        "To: bulk@calendarsnack.com\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nlist\r\n'
        f"{parts}--b--\r\n"
    ).encode()


def run_memory(name):
    if name.startswith("sheet-"):
        raw = email_with_attachment(
            "guests.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            spreadsheet_case(name), copies=150 if name == "sheet-150-workbooks" else 1)
    elif name.startswith("xls-"):
        raw = email_with_attachment("guests.xls", "application/vnd.ms-excel", xls_case(name))
    elif name.startswith("ods-"):
        raw = email_with_attachment("guests.ods", "application/vnd.oasis.opendocument.spreadsheet", ods_case(name))
    else:
        raw = email_bytes(memory_case(name))
    key = f"bulk_event_invites_email/memory-{name}"
    topic_arn = set_up([], raw, key)
    wall, rss = invoke_binary(key, topic_arn, f"memory {name}")
    state = json.loads(moto("/moto-api/data.json"))
    emails = [m for m in state["ses"]["RawMessage"] if ORGANIZER in m["destinations"]]
    published = sum(len(t["sent_notifications"]) for t in state["sns"]["Topic"] if t["arn"] == topic_arn)
    return {
        "case": name, "email_bytes": len(raw), "wall_s": round(wall, 2), "published": published,
        "summaries": len(emails), "summary_bytes": max((len(m["raw_data"]) for m in emails), default=0),
        "peak_rss_mib": round(rss / 1024, 1),
    }


def cold_start(runs):
    """Milliseconds from process start to the first poll of the Runtime API."""
    samples = []
    for _ in range(runs):
        stub = RuntimeStub([])
        env = function_env("arn:aws:sns:us-west-2:123456789012:none", stub.address)
        started = time.monotonic_ns()
        process = subprocess.Popen([str(BINARY)], env=env)
        while stub.first_poll_ns is None:
            time.sleep(0.0002)
        samples.append((stub.first_poll_ns - started) / 1e6)
        process.terminate()
        process.wait()
        stub.close()
    samples.sort()
    return {"runs": runs, "median_ms": round(statistics.median(samples), 1),
            "p90_ms": round(samples[int(len(samples) * 0.9) - 1], 1), "max_ms": round(samples[-1], 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--cold-starts", type=int, default=20)
    parser.add_argument("--memory", default="rows,giant-cell,sheet-empty-rows,sheet-shared-strings,sheet-zip-bomb,"
                        "sheet-sst-1e11,sheet-sst-usize-max,sheet-ole-header,ods-escaped-repeats,ods-valued-cells,"
                        "sheet-3000-sheets,sheet-150-workbooks,sheet-empty-shared-strings,"
                        "xls-full-sheet,xls-far-corner,xls-declared-labels",
                        help="memory-bound cases (issue 8); the bound is half of the template's 512 MB")
    parser.add_argument("--out", default=str(ROOT / ".tmp" / "bench" / "results.json"))
    args = parser.parse_args()
    results = {"sizes": [], "memory": [], "cold_start": None}
    for n in [int(s) for s in args.sizes.split(",") if s]:
        result = run_size(n)
        results["sizes"].append(result)
        print(json.dumps(result), flush=True)
        if not result["exactly_once"] or result["calls_total"] > result["budget"]:
            print(f"N={n}: FAILED (exactly once: {result['exactly_once']}, calls {result['calls_total']} > budget {result['budget']})")
            sys.exit(1)
    for name in [c for c in args.memory.split(",") if c]:
        result = run_memory(name)
        results["memory"].append(result)
        print(json.dumps({"memory": result}), flush=True)
        if result["peak_rss_mib"] > 256 or result["summary_bytes"] > 10_000_000 or result["summaries"] != 1:
            print(f"memory {name}: FAILED (peak RSS over 256 MiB, summary over 10 MB, or not one summary)")
            sys.exit(1)
    if args.cold_starts:
        results["cold_start"] = cold_start(args.cold_starts)
        print(json.dumps({"cold_start": results["cold_start"]}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
