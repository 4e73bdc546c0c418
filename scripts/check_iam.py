"""Checks that template.yaml grants every IAM action each AWS call of the code needs.

moto authorizes everything, so no emulator test can see a missing permission: SESv2 SendEmail
with Raw content, for one, is authorized as ses:SendRawEmail, and a template granting only
ses:SendEmail passes every test and fails every summary in a real account. This check closes
that gap from three sources:

1. the SDK operations the code calls: every zero-argument fluent call (`client.get_item()`) in
   src/, outside `#[cfg(test)]` code, whose name is an operation of an `aws-sdk-*` crate in
   Cargo.lock (operation names read from each crate's own `src/operation/` folder);
2. docs/iam-actions.csv: for each operation, the IAM actions AWS checks for it, with the source;
3. the function's policy in template.yaml, rendered both ways (own queue, existing queue).

It fails when the code calls an operation the table does not list (add its row, with a
source), when the template does not grant an action a called operation needs, and when the
template grants an action no called operation needs (least privilege). Before that it checks
itself on a case it must refuse: SendEmail granted only ses:SendEmail.
"""

import csv
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

from cfnlint.decode import decode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_template import EXISTING, render  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "iam-actions.csv"
CALL = re.compile(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")
STRUCT = re.compile(r"pub struct (\w+);")


def sdk_operations():
    """{snake_name: [(service, OperationName)]} for every aws-sdk-* crate the build uses."""
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    operations = {}
    for package in metadata["packages"]:
        name = package["name"]
        if not name.startswith("aws-sdk-"):
            continue
        service = name.removeprefix("aws-sdk-")
        folder = Path(package["manifest_path"]).parent / "src" / "operation"
        for module in sorted(folder.glob("*.rs")):
            struct = STRUCT.search(module.read_text())
            pascal = struct.group(1) if struct else "".join(w.title() for w in module.stem.split("_"))
            operations.setdefault(module.stem, []).append((service, pascal))
    if not operations:
        sys.exit("check_iam: found no aws-sdk-* crate in cargo metadata")
    return operations


def production_code(text):
    """The part of a source file before its first `#[cfg(test)]` (test modules come last)."""
    return text.split("#[cfg(test)]", 1)[0]


def called_operations(sources, operations):
    """{(service, Operation): [where]} for the SDK calls in `sources` ({path: text})."""
    calls, problems = {}, []
    for path, text in sources.items():
        code = production_code(text)
        services_named = set(re.findall(r"aws_sdk_(\w+)", code))
        for match in CALL.finditer(code):
            candidates = operations.get(match.group(1))
            if not candidates:
                continue
            if len(candidates) > 1:
                candidates = [c for c in candidates if c[0].replace("-", "_") in services_named]
            line = code.count("\n", 0, match.start()) + 1
            where = f"{path}:{line}"
            if len(candidates) != 1:
                problems.append(f"{where}: .{match.group(1)}() is an operation of several SDK "
                                "crates; name the crate (use aws_sdk_<service>) in this file")
                continue
            calls.setdefault(candidates[0], []).append(where)
    return calls, problems


def required_actions(rows):
    table = {}
    for row in rows:
        if not row["source"].startswith("https://docs.aws.amazon.com/"):
            sys.exit(f"check_iam: {TABLE.name}: {row['service']} {row['operation']} needs an AWS documentation source")
        table.setdefault((row["service"], row["operation"]), set()).add(row["actions"])
    return table


def granted_actions(resources):
    statements = resources["BulkInvitesFunction"]["Properties"]["Policies"][0]["Statement"]
    granted = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    return granted


def problems_with(calls, table, granted, label):
    problems, needed = [], set()
    for (service, operation), where in sorted(calls.items()):
        actions = table.get((service, operation))
        if actions is None:
            problems.append(f"{label}: {service} {operation} (called at {', '.join(where)}) has no row in "
                            f"{TABLE.relative_to(ROOT)}: add the IAM actions AWS checks for it, with the source")
            continue
        needed |= actions
        for action in sorted(actions):
            if not any(fnmatch.fnmatchcase(action, grant) for grant in granted):
                problems.append(f"{label}: {service} {operation} (called at {where[0]}) needs {action}, "
                                "which the template does not grant")
    for grant in sorted(granted):
        if not any(fnmatch.fnmatchcase(action, grant) for action in needed):
            problems.append(f"{label}: the template grants {grant}, which no call of the code needs")
    return problems


def self_check():
    """The check must refuse the bug it exists for, and an operation missing from the table."""
    operations = {"send_email": [("sesv2", "SendEmail")], "delete_item": [("dynamodb", "DeleteItem")]}
    table = {("sesv2", "SendEmail"): {"ses:SendEmail", "ses:SendRawEmail"}}
    source = {"mailer.rs": "self.client\n    .send_email()\n    .send()"}
    calls, _ = called_operations(source, operations)
    found = problems_with(calls, table, {"ses:SendEmail"}, "self-check")
    assert any("needs ses:SendRawEmail" in p for p in found), found
    calls, _ = called_operations({"x.rs": "client.delete_item().send()\n#[cfg(test)]\nclient.send_email()"}, operations)
    assert list(calls) == [("dynamodb", "DeleteItem")], calls
    assert any("has no row" in p for p in problems_with(calls, table, set(), "self-check"))


def main():
    self_check()
    operations = sdk_operations()
    sources = {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "src").rglob("*.rs"))}
    calls, problems = called_operations(sources, operations)
    with TABLE.open(newline="") as f:
        table = required_actions(csv.DictReader(f))
    template, matches = decode(str(ROOT / "template.yaml"))
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
    for label, parameters in [("own queue", {}), ("existing queue", {"ExistingQueueArn": EXISTING})]:
        problems += problems_with(calls, table, granted_actions(render(template, parameters)), label)
    for (service, operation), where in sorted(calls.items()):
        print(f"{service} {operation}: {', '.join(sorted(table.get((service, operation), {'?'})))} ({len(where)} call sites)")
    if problems:
        sys.exit("\n".join(problems))
    print(f"IAM: {len(calls)} SDK operations called, every action they need granted in both renderings")


if __name__ == "__main__":
    main()
