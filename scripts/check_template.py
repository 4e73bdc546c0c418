"""Renders template.yaml for both ways of deploying it and checks what each creates.

- A stack of its own (ExistingQueueArn empty): the queue, its -dead queue, the subscription
  when InboundTopicArn is set, and the function on that queue.
- Dropped into the Calendar Invite Server's stack (ExistingQueueArn set): no queue, no -dead
  queue, no subscription; the function, its SendMessage permission and the alarms on the
  existing queue.

Both renderings are also checked after the SAM transform (samtranslator, which cfn-lint
brings): every deploy publishes a version behind the `live` alias, the SQS trigger invokes the
alias, and CodeDeploy shifts it as DeploymentType says, rolled back by the template's alarms.

Conditions, Fn::If, Ref and Fn::GetAtt are evaluated here (the SAM transform leaves them to
CloudFormation); `sam validate --lint` and cfn-lint check the rest.
"""

import os
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
EXISTING = "arn:aws:sqs:us-west-2:123456789012:get-new-bulk-event-invites-from-email"


def render(template, parameters):
    values = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    values.update(parameters)
    conditions = {}

    def condition(name):
        if name not in conditions:
            conditions[name] = evaluate(template["Conditions"][name])
        return conditions[name]

    def evaluate(node):
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return values.get(arg, f"<{arg}>")
            if key == "Fn::GetAtt":
                return f"<{arg[0] if isinstance(arg, list) else arg}>"
            if key == "Fn::Equals":
                return evaluate(arg[0]) == evaluate(arg[1])
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(evaluate(a) for a in arg)
            if key == "Condition":
                return condition(arg)
            if key == "Fn::If":
                return evaluate(arg[1] if condition(arg[0]) else arg[2])
            if key == "Fn::Select":
                return evaluate(arg[1])[int(arg[0])]
            if key == "Fn::Split":
                return evaluate(arg[1]).split(arg[0])
            if key == "Fn::Sub":
                return arg if isinstance(arg, str) else arg[0]
        if isinstance(node, dict):
            return {k: evaluate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [evaluate(v) for v in node]
        return node

    resources = {
        name: evaluate(spec)
        for name, spec in template["Resources"].items()
        if "Condition" not in spec or condition(spec["Condition"])
    }
    return resources


def sam_transform():
    """template.yaml after the SAM transform, as CloudFormation would receive it."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self):
            return {}

    template = yaml_parse((ROOT / "template.yaml").read_text())
    # `sam build` + `sam deploy` put the built artifact's S3 address here.
    template["Resources"]["BulkInvitesFunction"]["Properties"]["CodeUri"] = "s3://artifacts/bootstrap.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-west-2")
    return transform(template, {}, NoManagedPolicies())


def of_type(resources, kind):
    return [spec for spec in resources.values() if spec["Type"] == kind]


def gradual_deploys(label, resources, alarms):
    """The trigger on the alias, and CodeDeploy shifting it, gated by `alarms`."""
    (alias,) = of_type(resources, "AWS::Lambda::Alias")
    (trigger,) = of_type(resources, "AWS::Lambda::EventSourceMapping")
    (group,) = of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
    gates = [alarm["Name"] for alarm in group["Properties"]["AlarmConfiguration"]["Alarms"]]
    return check(f"{label}, after the SAM transform", resources, [
        ("publishes a version behind the live alias", alias["Properties"]["Name"] == "live" and of_type(resources, "AWS::Lambda::Version")),
        ("the SQS trigger invokes the alias", trigger["Properties"]["FunctionName"] == "<BulkInvitesFunctionAliaslive>"),
        ("CodeDeploy moves the alias", "CodeDeployLambdaAliasUpdate" in alias.get("UpdatePolicy", {})),
        (f"rolled back by {alarms} (has {gates})", gates == [f"<{name}>" for name in alarms]),
        ("rolls back on alarm", "DEPLOYMENT_STOP_ON_ALARM" in group["Properties"]["AutoRollbackConfiguration"]["Events"]),
    ])


def types(resources):
    return sorted(spec["Type"] for spec in resources.values())


def check(label, resources, expect):
    problems = [f"{label}: {what}" for what, ok in expect if not ok]
    status = "ok" if not problems else "FAILED"
    print(f"{label}: {len(resources)} resources, {types(resources)}: {status}")
    return problems


def main():
    template, matches = decode(str(ROOT / "template.yaml"))
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
    problems = []

    own = render(template, {"InboundTopicArn": "arn:aws:sns:us-west-2:123456789012:new-bulk-event-invites-from-email"})
    function = own["BulkInvitesFunction"]["Properties"]
    problems += check("own queue", own, [
        ("creates the queue and its -dead queue", types(own).count("AWS::SQS::Queue") == 2),
        ("subscribes the queue to the inbound topic", "BulkRequestSubscription" in own),
        ("consumes its own queue", function["Events"]["BulkRequests"]["Properties"]["Queue"] == "<BulkRequestQueue>"),
        ("watches its -dead queue", "DeadLetterQueueAlarm" in own),
    ])

    dropped = render(template, {"ExistingQueueArn": EXISTING, "ExistingDeadLetterQueueName": "get-new-bulk-event-invites-from-email-dead",
                                "InboundTopicArn": "arn:aws:sns:us-west-2:123456789012:new-bulk-event-invites-from-email"})
    function = dropped["BulkInvitesFunction"]["Properties"]
    statements = function["Policies"][0]["Statement"]
    send = next(s for s in statements if s["Sid"] == "ContinueLongRequests")
    oldest = dropped["OldestRequestAlarm"]["Properties"]["Dimensions"][0]["Value"]
    dead = dropped["DeadLetterQueueAlarm"]["Properties"]["Dimensions"][0]["Value"]
    problems += check("existing queue", dropped, [
        ("creates no queue", "AWS::SQS::Queue" not in types(dropped)),
        ("creates no subscription or queue policy", not {"BulkRequestSubscription", "BulkRequestQueuePolicy"} & set(dropped)),
        ("consumes the existing queue", function["Events"]["BulkRequests"]["Properties"]["Queue"] == EXISTING),
        ("continues on the existing queue", send["Resource"] == EXISTING),
        ("watches the existing queue's age", oldest == "get-new-bulk-event-invites-from-email"),
        ("watches the existing -dead queue", dead == "get-new-bulk-event-invites-from-email-dead"),
    ])
    no_dead = render(template, {"ExistingQueueArn": EXISTING})
    problems += check("existing queue, no -dead name", no_dead, [
        ("no dead-letter alarm without its name", "DeadLetterQueueAlarm" not in no_dead),
    ])

    transformed = sam_transform()
    gates = ["FunctionErrorsAlarm", "FailedRequestsAlarm"]
    problems += gradual_deploys("own queue", render(transformed, {}), gates + ["DeadLetterQueueAlarm"])
    problems += gradual_deploys("existing queue", render(transformed, {
        "ExistingQueueArn": EXISTING, "ExistingDeadLetterQueueName": "get-new-bulk-event-invites-from-email-dead"}),
        gates + ["DeadLetterQueueAlarm"])
    problems += gradual_deploys("existing queue, no -dead name", render(transformed, {"ExistingQueueArn": EXISTING}), gates)
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
