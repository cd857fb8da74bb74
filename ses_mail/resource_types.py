"""What the program knows about each AWS resource type it manages: one `ResourceType` per type.

Every tool that needs provider knowledge reads it from here and nowhere else:
- the plan diff (`ses_mail.review.changes`): `replace_on` (which input changes replace the
  resource) and `consequences` / `attention` (what a change does to the people who send mail);
- the offline plan (`ses_mail.cli.plan`): `summary`, the values a reviewer must check;
- adoption (`ses_mail.adoption`): `import_id`, the id `pulumi import` takes;
- the emulated provider (`ses_mail.review.emulation`): `emulate` (id and outputs of a create) and
  `computed` (what AWS computes, unknown in a preview).

Adding a type to the program is one `ResourceType(...)` entry in `TYPES` below;
tests/test_resource_types.py fails while a type the program registers has none.

Pure: no Pulumi import, so the CLI tools and tests read it without an engine. Property names are
the provider's camelCase input and output names, as the engine (and the mock monitor) sees them.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ses_mail.specs.iam_policy import describe_send_policy_change
from ses_mail.specs.report_receiving import stage_of_record
from ses_mail.specs.cloudflare import DNS_RECORD_TYPE, import_id as cloudflare_import_id
from ses_mail.specs.smtp_password import smtp_password

#: The account the emulated provider runs in.
ACCOUNT_ID = "123456789012"

Inputs = Mapping[str, Any]
#: (resource name, inputs, provider region) -> (id, outputs besides the inputs).
Emulator = Callable[[str, Inputs, str], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class ResourceType:
    """One AWS resource type, as every tool of this program needs to know it."""

    #: Pulumi type token, e.g. `aws:route53/record:Record`.
    token: str
    #: Input properties whose change makes the provider replace the resource (ForceNew in the
    #: Terraform AWS provider v6 that pulumi-aws 7.x bridges; `region` is the per-resource region
    #: override, ForceNew on every regional resource). Every other input updates in place.
    replace_on: frozenset[str]
    #: The offline plan's one-line summary of a resource's inputs (what a reviewer checks).
    summary: Callable[[Inputs], str]
    #: The emulated provider's create: id and computed outputs, from the name, inputs and region.
    emulate: Emulator
    #: What deleting or replacing one does to the people who send mail, by operation
    #: (`delete`, `replace`, and `release`: a delete that retain_on_delete turns into leaving the
    #: stack); without an entry the diff says "<Type> deleted/replaced" (or released).
    consequences: Mapping[str, str] = field(default_factory=dict)
    #: Outputs AWS computes: unknown when `pulumi preview` plans a create. A tuple names the
    #: computed members of an input object.
    computed: Mapping[str, Any] = field(default_factory=dict)
    #: `pulumi import` id from the inputs and the provider's region; None: adopt cannot import it.
    #: Where the id is one the provider's API assigned (a Cloudflare record's), adopt adds the id
    #: it found as the input `id`.
    import_id: Callable[[Inputs, str], str] | None = None
    #: What a non-destructive change still stops or tightens, from the old and the new values of
    #: the changed inputs (top-level name -> value, each); "" when nothing.
    attention: Callable[[Inputs, Inputs], str] | None = None
    #: What the program itself replaces on (the resource option `replace_on_changes`), on top of
    #: `replace_on`, and whether such a replacement deletes the old resource first.
    replace_on_changes: frozenset[str] = frozenset()
    delete_before_replace: bool = False

    @property
    def short(self) -> str:
        return self.token.split(":")[-1]

    def consequence(self, op: str) -> str:
        return self.consequences.get(op, f"{self.short} {'deleted' if op == 'delete' else 'replaced'}")


# --- emulated values: deterministic, and saying they are fake -----------------------------------

def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()


def fake_dkim_tokens(domain: str) -> list[str]:
    # Real tokens are 32 lowercase base32 characters; these keep the length and say "fake".
    return ["fake" + base64.b32encode(_digest("dkim", domain, str(i))).decode().lower()[:28] for i in range(3)]


def fake_access_key_id(name: str) -> str:
    return "AKIAFAKE" + _digest("key-id", name).hex().upper()[:12]


def fake_secret_key(name: str) -> str:
    return "FAKE" + base64.b64encode(_digest("secret", name)).decode()[:36]


def fake_zone_id(zone: str) -> str:
    return "ZFAKE" + _digest("zone", zone).hex().upper()[:16]


def fake_cloudflare_zone_id(zone: str) -> str:
    """32 hexadecimal characters, as Cloudflare's zone ids."""
    return _digest("cloudflare-zone", zone).hex()[:32]


def cloudflare_name_servers(zone: str) -> tuple[str, str]:
    """The two name servers Cloudflare assigns a zone (<name>.ns.cloudflare.com)."""
    names = ("ada", "bob", "cruz", "dina", "eli", "fay")
    digest = _digest("cloudflare-ns", zone)
    return f"{names[digest[0] % 6]}.ns.cloudflare.com", f"{names[digest[1] % 6]}.ns.cloudflare.com"


def fake_secret_suffix(name: str) -> str:
    # Secrets Manager appends a hyphen and six random characters to a secret's ARN.
    return base64.b64encode(_digest("secret-suffix", name)).decode().replace("+", "x").replace("/", "y")[:6]


def _region(inputs: Inputs, region: str) -> str:
    return inputs.get("region") or region


def percent(value: Any) -> str:
    """A rate (0.05) as the plan prints it (5%)."""
    return f"{float(value) * 100:g}%" if value is not None else "?"


# --- SES identities ----------------------------------------------------------------------------

IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
VERIFICATION = "aws:ses/domainIdentityVerification:DomainIdentityVerification"


def identity_import_id(inputs: Inputs, provider_region: str) -> str:
    """The email identity (the domain), with `@<region>` when it lives in another region than the
    provider's (pulumi-aws 7 enhanced region support: "append @<region> to the import ID")."""
    region = inputs.get("region") or provider_region
    identity: str = inputs["emailIdentity"]
    return identity + ("" if region == provider_region else f"@{region}")


def _emulate_identity(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    identity = inputs["emailIdentity"]
    region = _region(inputs, region)
    requested = (inputs.get("dkimSigningAttributes") or {}).get("nextSigningKeyLength", "RSA_2048_BIT")
    return identity, {
        "arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{identity}",
        "identityType": "DOMAIN" if "@" not in identity else "EMAIL_ADDRESS",
        "region": region,
        "verifiedForSendingStatus": False,  # DKIM verification takes minutes to 72 hours
        "dkimSigningAttributes": {
            "currentSigningKeyLength": requested,
            "nextSigningKeyLength": requested,
            "signingAttributesOrigin": "AWS_SES",
            "status": "PENDING",
            "tokens": fake_dkim_tokens(identity),
        },
    }


def _identity_summary(i: Inputs) -> str:
    return (f"identity={i['emailIdentity']} region={i.get('region')} "
            f"dkim={i.get('dkimSigningAttributes', {}).get('nextSigningKeyLength')}"
            + (f" configuration_set={i['configurationSetName']}" if i.get("configurationSetName") else ""))


def _emulate_mail_from(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return inputs["emailIdentity"], {"region": _region(inputs, region)}


def _emulate_verification(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    return inputs["domain"], {"arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{inputs['domain']}", "region": region}


# --- Route 53 ----------------------------------------------------------------------------------

RECORD = "aws:route53/record:Record"


def record_import_id(zone_id: str, name: str, type_: str) -> str:
    """`ZONEID_NAME_TYPE`, the name fully qualified without the final dot (the provider's parser
    finds the type as the first `_`-separated part that is a record type, so `_dmarc.` and
    `_domainkey.` names parse)."""
    return f"{zone_id}_{name.rstrip('.').lower()}_{type_}"


def _record_attention(before: Inputs, after: Inputs) -> str:
    """A DMARC record's new value is a step of the domain's rollout: say which."""
    stages = [stage_of_record(str(v)) for v in after.get("records") or []]
    stage = next((s for s in stages if s), None)
    return f"DMARC rollout stage now: {stage} (docs/dmarc.md, Rollout steps)" if stage else ""


def _emulate_record(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    fqdn = inputs["name"]
    return f"{inputs['zoneId']}_{fqdn}_{inputs['type']}", {"fqdn": fqdn}


# --- Cloudflare (dns: cloudflare) ---------------------------------------------------------------

CLOUDFLARE_RECORD = DNS_RECORD_TYPE


def _emulate_cloudflare_record(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    # Cloudflare's record ids are 32 hexadecimal characters; the name comes back as the FQDN.
    rid = _digest("cloudflare-record", inputs["zoneId"], inputs["name"], inputs["type"]).hex()[:32]
    return rid, {"proxiable": inputs["type"] in ("A", "AAAA", "CNAME"), "createdOn": "2026-01-01T00:00:00Z"}


def _cloudflare_record_summary(i: Inputs) -> str:
    priority = f"{int(i['priority'])} " if i.get("priority") is not None else ""
    proxied = "PROXIED" if i.get("proxied") else "not proxied"
    return f"{i['name']} {i['type']} {priority}{i['content']} (ttl {int(i['ttl'])}) (Cloudflare, {proxied})"


# --- IAM ---------------------------------------------------------------------------------------

USER = "aws:iam/user:User"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"


def _emulate_user(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    user = inputs["name"]
    path = inputs.get("path", "/")
    return user, {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user{path}{user}",
        "uniqueId": "AIDAFAKE" + _digest("user", user).hex().upper()[:13],
        "path": path,
        "tagsAll": inputs.get("tags", {}),
    }


def _emulate_user_policy(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs['user']}:{inputs['name']}", {}


def _user_policy_attention(before: Inputs, after: Inputs) -> str:
    """What a send policy update changes for the person, in words: mail that the new policy
    does not allow is refused as soon as `pulumi up` applies it."""
    old, new = before.get("policy"), after.get("policy")
    if not isinstance(old, str) or not isinstance(new, str):
        return ""
    try:
        what = describe_send_policy_change(json.loads(old), json.loads(new))
    except (ValueError, AttributeError, TypeError):
        return ""
    return f"send policy changes what this person may send, from `pulumi up` on: {what}" if what else ""


def _emulate_access_key(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    out: dict[str, Any] = {"status": inputs.get("status", "Active"), "createDate": "2026-01-01T00:00:00Z"}
    if inputs.get("pgpKey"):
        out["encryptedSecret"] = "FAKE-PGP-" + _digest("enc-secret", name).hex()
        out["encryptedSesSmtpPasswordV4"] = "FAKE-PGP-" + _digest("enc-smtp", name).hex()
        out["keyFingerprint"] = _digest("fpr", inputs["pgpKey"]).hex()[:40]
    else:
        secret = fake_secret_key(name)
        out["secret"] = secret
        # As the provider does: derived with the provider's region, not the resource's.
        out["sesSmtpPasswordV4"] = smtp_password(secret, region)
    return fake_access_key_id(name), out


def _access_key_attention(before: Inputs, after: Inputs) -> str:
    if after.get("status") == "Inactive":
        return "access key set Inactive: SMTP logins with it fail until the person is active again"
    return ""


# --- Secrets Manager ---------------------------------------------------------------------------

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"


def _emulate_secret(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    secret = inputs["name"]
    arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}-{fake_secret_suffix(secret)}"
    return arn, {"arn": arn, "region": region, "tagsAll": inputs.get("tags", {}),
                 "recoveryWindowInDays": inputs.get("recoveryWindowInDays", 30)}


def _emulate_secret_version(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    version = "fake-" + _digest("secret-version", name, str(inputs.get("secretString"))).hex()[:27]
    secret_id = inputs["secretId"]
    return f"{secret_id}|{version}", {"arn": secret_id, "versionId": version, "versionStages": ["AWSCURRENT"],
                                      "region": _region(inputs, region)}


def _emulate_secret_policy(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return inputs["secretArn"], {"region": _region(inputs, region)}


# --- deliverability: configuration set, feedback topic, alarms, suppression ---------------------

CONFIGURATION_SET = "aws:sesv2/configurationSet:ConfigurationSet"
EVENT_DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
ACCOUNT_SUPPRESSION = "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _emulate_configuration_set(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    set_name = inputs["configurationSetName"]
    return set_name, {"arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{set_name}", "region": region,
                      "tagsAll": inputs.get("tags", {})}


def _configuration_set_summary(i: Inputs) -> str:
    return (f"name={i['configurationSetName']} "
            f"tls={(i.get('deliveryOptions') or {}).get('tlsPolicy')} "
            f"reputation_metrics={(i.get('reputationOptions') or {}).get('reputationMetricsEnabled')} "
            f"sending={(i.get('sendingOptions') or {}).get('sendingEnabled')}")


def _emulate_event_destination(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    # The provider's id: "<configuration set>|<event destination>".
    return f"{inputs['configurationSetName']}|{inputs['eventDestinationName']}", {"region": _region(inputs, region)}


def _event_destination_summary(inputs: Inputs) -> str:
    d = inputs.get("eventDestination") or {}
    where = ("sns " + d["snsDestination"]["topicArn"] if d.get("snsDestination") else
             "cloudwatch by " + ",".join(c["dimensionName"] for c in
                                         d.get("cloudWatchDestination", {}).get("dimensionConfigurations", [])))
    return f"{where} events={','.join(d.get('matchingEventTypes') or [])}"


def _emulate_account_suppression(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return ACCOUNT_ID, {"region": _region(inputs, region)}


def _emulate_topic(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{inputs['name']}"
    return arn, {"arn": arn, "owner": ACCOUNT_ID, "region": region, "tagsAll": inputs.get("tags", {})}


def _emulate_topic_policy(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return inputs["arn"], {"owner": ACCOUNT_ID, "region": _region(inputs, region)}


def _last_name(value: Any) -> list[str]:
    return [v.rsplit(':', 1)[-1].rsplit('/', 1)[-1] for v in (value if isinstance(value, list) else [value])]


def _topic_policy_summary(inputs: Inputs) -> str:
    statements = json.loads(inputs["policy"]).get("Statement", [])
    return "publish: " + "; ".join(
        f"{s['Principal']['Service']} if SourceArn {','.join(_last_name(s['Condition']['ArnEquals']['AWS:SourceArn']))}"
        for s in statements)


def _emulate_topic_subscription(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    # SNS returns the subscription's ARN even while it awaits confirmation (ReturnSubscriptionArn);
    # email and https endpoints stay pending until they confirm, a same-account SQS queue does not.
    arn = f"{inputs['topic']}:fake{_digest('subscription', inputs['endpoint']).hex()[:8]}-0000-4000-8000-000000000000"
    return arn, {"arn": arn, "ownerId": ACCOUNT_ID, "confirmationWasAuthenticated": False,
                 "pendingConfirmation": inputs["protocol"] != "sqs", "region": _region(inputs, region)}


def _emulate_metric_alarm(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    alarm = inputs["name"]
    return alarm, {"arn": f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{alarm}", "region": region,
                   "tagsAll": inputs.get("tags", {})}


# --- DMARC report receiving: the bucket, its settings, the receipt rule (set) ---------------------

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
RECEIPT_RULE_SET = "aws:ses/receiptRuleSet:ReceiptRuleSet"
RECEIPT_RULE = "aws:ses/receiptRule:ReceiptRule"
ACTIVE_RECEIPT_RULE_SET = "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet"


def _emulate_bucket(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    bucket = inputs["bucket"]
    return bucket, {"arn": f"arn:aws:s3:::{bucket}", "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                    "region": _region(inputs, region), "tagsAll": inputs.get("tags", {})}


def _emulate_bucket_part(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    # The provider's id of a bucket's sub-resource is the bucket's name.
    return inputs["bucket"], {"region": _region(inputs, region)}


def _bucket_policy_summary(inputs: Inputs) -> str:
    parts = []
    for st in json.loads(inputs["policy"]).get("Statement", []):
        principal = st.get("Principal")
        who = principal.get("Service") if isinstance(principal, dict) else principal
        condition = ",".join(f"{k}={_last_name(v)[0]}" for test in (st.get("Condition") or {}).values()
                             for k, v in test.items())
        parts.append(f"{st['Effect']} {who} {st['Action']} if {condition}")
    return "; ".join(parts)


def _encryption_summary(inputs: Inputs) -> str:
    rule = (inputs.get("rules") or [{}])[0]
    default = rule.get("applyServerSideEncryptionByDefault") or {}
    return f"sse={default.get('sseAlgorithm')}" + (f" key={default['kmsMasterKeyId']}" if default.get("kmsMasterKeyId") else "")


def _lifecycle_summary(inputs: Inputs) -> str:
    return "; ".join(f"{(r.get('filter') or {}).get('prefix', '')}* expires after {int(r['expiration']['days'])} days"
                     for r in inputs.get("rules") or [] if r.get("expiration"))


def _emulate_rule_set(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    set_name = inputs["ruleSetName"]
    return set_name, {"arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:receipt-rule-set/{set_name}", "region": region}


def _emulate_rule(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    arn = f"arn:aws:ses:{region}:{ACCOUNT_ID}:receipt-rule-set/{inputs['ruleSetName']}:receipt-rule/{inputs['name']}"
    return inputs["name"], {"arn": arn, "region": region}


def _rule_summary(inputs: Inputs) -> str:
    actions = " ".join(f"s3://{a['bucketName']}/{a.get('objectKeyPrefix', '')}" for a in inputs.get("s3Actions") or [])
    return (f"set={inputs['ruleSetName']} recipients={','.join(inputs.get('recipients') or [])} -> {actions} "
            f"scan={inputs.get('scanEnabled')} tls={inputs.get('tlsPolicy')}")


def boundary_label(arn: Any) -> str:
    """A permissions boundary as the plan shows it: the policy's path and name, or NONE."""
    if not arn:
        return "NONE"
    text = str(arn)
    return text.split(":policy", 1)[1] if ":policy" in text else text


# --- in-account rotation: the function, its role, logs and invoke permission, the schedules -----

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
PERMISSION = "aws:lambda/permission:Permission"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


def _emulate_function(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{inputs['name']}"
    return inputs["name"], {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST",
                            "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
                            "region": region, "tagsAll": inputs.get("tags", {})}


def _emulate_role(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    role, path = inputs["name"], inputs.get("path", "/")
    return role, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role{path}{role}", "path": path,
                  "uniqueId": "AROAFAKE" + _digest("role", role).hex().upper()[:13], "tagsAll": inputs.get("tags", {})}


def _emulate_log_group(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    region = _region(inputs, region)
    return inputs["name"], {"arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{inputs['name']}",
                            "region": region, "tagsAll": inputs.get("tags", {})}


def _emulate_permission(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    statement = inputs.get("statementId") or "fake-" + _digest("permission", name).hex()[:20]
    return statement, {"statementId": statement, "region": _region(inputs, region)}


def _emulate_secret_rotation(name: str, inputs: Inputs, region: str) -> tuple[str, dict[str, Any]]:
    return inputs["secretId"], {"region": _region(inputs, region)}


def _rotation_summary(i: Inputs) -> str:
    rules = i.get("rotationRules") or {}
    days = rules.get("automaticallyAfterDays")
    return f"every {int(days)} days by {str(i.get('rotationLambdaArn', '')).rsplit(':', 1)[-1]}" if days else "rotation"


NOT_ROTATED = "the stack's credentials are no longer rotated (the current passwords keep working)"

# --- the table ---------------------------------------------------------------------------------
# `replace_on` checked against the provider source; notes where it is not obvious.

_ALL: tuple[ResourceType, ...] = (
    ResourceType(
        IDENTITY,
        # DKIM signing attributes and the configuration set update in place.
        replace_on=frozenset({"emailIdentity", "region"}),
        summary=_identity_summary,
        emulate=_emulate_identity,
        consequences={"delete": "SES identity deleted: nobody can send from this domain any more",
                      "replace": "SES identity recreated: new DKIM tokens, sending stops until it is verified again"},
        computed={"arn": None, "identityType": None, "verifiedForSendingStatus": None,
                  "dkimSigningAttributes": ("tokens", "status", "currentSigningKeyLength", "signingAttributesOrigin")},
        import_id=identity_import_id,
    ),
    ResourceType(
        MAIL_FROM,
        # The MAIL FROM domain and the MX failure behaviour update in place.
        replace_on=frozenset({"emailIdentity", "region"}),
        summary=lambda i: f"mail_from={i['mailFromDomain']} on_mx_failure={i.get('behaviorOnMxFailure')}",
        emulate=_emulate_mail_from,
        consequences={"delete": "custom MAIL FROM removed: SPF aligns with amazonses.com, not the domain"},
        import_id=identity_import_id,
    ),
    ResourceType(
        VERIFICATION,
        # It only waits: deleting it does nothing in AWS.
        replace_on=frozenset({"domain", "region"}),
        summary=lambda i: f"pulumi up waits for {i['domain']} to be verified",
        emulate=_emulate_verification,
    ),
    ResourceType(
        RECORD,
        # `type`, `ttl` and `records` update in place.
        replace_on=frozenset({"name", "zoneId"}),
        summary=lambda i: f"{i['name']} {i['type']} {' | '.join(i['records'])} (ttl {int(i['ttl'])})",
        emulate=_emulate_record,
        consequences={"delete": "DNS record removed", "replace": "DNS record moved (old name removed)"},
        computed={"fqdn": None},
        import_id=lambda inputs, _: record_import_id(inputs["zoneId"], inputs["name"], inputs["type"]),
        attention=_record_attention,
    ),
    ResourceType(
        CLOUDFLARE_RECORD,
        # pulumi-cloudflare 6.x (terraform-provider-cloudflare dns_record schema): `zoneId` and
        # `type` are RequiresReplace; `name`, `content`, `ttl`, `priority`, `proxied` update in
        # place. The program adds `name` and `type` as `replace_on_changes`, deleted first: the
        # API has been seen to ignore an in-place rename, and Cloudflare refuses a CNAME beside
        # another record of its name, so the old record must go before the new one exists.
        replace_on=frozenset({"zoneId", "type"}),
        summary=_cloudflare_record_summary,
        emulate=_emulate_cloudflare_record,
        consequences={"delete": "Cloudflare DNS record removed",
                      "replace": "Cloudflare DNS record replaced, the old one deleted first: "
                                 "the name is briefly without the record"},
        computed={"proxiable": None, "createdOn": None, "modifiedOn": None, "meta": None},
        # `<zone_id>/<dns_record_id>`: the record id is Cloudflare's, found in the zone by
        # `ses-mail adopt` and given as the input `id`.
        import_id=lambda inputs, _: cloudflare_import_id(str(inputs["zoneId"]), str(inputs["id"])),
        replace_on_changes=frozenset({"name", "type"}),
        delete_before_replace=True,
    ),
    ResourceType(
        USER,
        # Nothing: `name` and `path` change through UpdateUser (a rename).
        replace_on=frozenset(),
        summary=lambda i: f"name={i['name']} path={i.get('path')} boundary={boundary_label(i.get('permissionsBoundary'))}",
        emulate=_emulate_user,
        consequences={"delete": "IAM user deleted with all its keys",
                      "replace": "IAM user recreated; its keys are deleted"},
        computed={"arn": None, "uniqueId": None, "tagsAll": None},
    ),
    ResourceType(
        USER_POLICY,
        # `policy` is a PutUserPolicy update.
        replace_on=frozenset({"name", "namePrefix", "user"}),
        summary=lambda i: f"policy={i['name']}",
        emulate=_emulate_user_policy,
        consequences={"delete": "sending permission removed", "replace": "sending permission briefly removed"},
        attention=_user_policy_attention,
    ),
    ResourceType(
        ACCESS_KEY,
        # Only `status` updates in place.
        replace_on=frozenset({"user", "pgpKey"}),
        summary=lambda i: f"status={i.get('status', 'Active')}" + (" pgp-encrypted" if i.get("pgpKey") else ""),
        emulate=_emulate_access_key,
        consequences={"replace": "new SMTP username and password; the old ones stop working",
                      "delete": "SMTP credential revoked",
                      "release": "released, not deleted (retain_on_delete): the old access key leaves the stack "
                      "but keeps working in AWS; the rotation function retires it (deleted by a rotation after "
                      "the grace period, grace_hours)"},
        computed={"secret": None, "sesSmtpPasswordV4": None, "encryptedSecret": None,
                  "encryptedSesSmtpPasswordV4": None, "keyFingerprint": None, "createDate": None},
        attention=_access_key_attention,
    ),
    ResourceType(
        SECRET,
        replace_on=frozenset({"name", "namePrefix", "region"}),
        summary=lambda i: f"name={i['name']} region={i.get('region')}"
        + (f" kms={i['kmsKeyId']}" if i.get("kmsKeyId") else ""),
        emulate=_emulate_secret,
        consequences={"delete": "Secrets Manager secret holding the credential deleted",
                      "replace": "Secrets Manager secret recreated under a new ARN"},
        computed={"arn": None, "tagsAll": None},
    ),
    ResourceType(
        SECRET_VERSION,
        # A new value is a new version.
        replace_on=frozenset({"secretId", "secretString", "secretBinary", "secretStringWoVersion", "region"}),
        summary=lambda i: "secret_string=[secret]",
        emulate=_emulate_secret_version,
        consequences={"delete": "credential value removed from Secrets Manager",
                      "replace": "new credential value in Secrets Manager",
                      "release": "released, not deleted (retain_on_delete): the old value stays in the secret as a "
                      "previous version until the rotation function's next rotation"},
        computed={"arn": None, "versionId": None, "versionStages": None},
    ),
    ResourceType(
        SECRET_POLICY,
        replace_on=frozenset({"secretArn", "region"}),
        summary=lambda i: "readers-only resource policy",
        emulate=_emulate_secret_policy,
        consequences={"delete": "read access to the credential secret removed"},
    ),
    ResourceType(
        CONFIGURATION_SET,
        # Reputation, sending and delivery (TLS) options update in place.
        replace_on=frozenset({"configurationSetName", "region"}),
        summary=_configuration_set_summary,
        emulate=_emulate_configuration_set,
        consequences={"delete": "configuration set deleted: identities lose their default set, no more feedback events",
                      "replace": "configuration set recreated: its reputation metrics start again"},
    ),
    ResourceType(
        EVENT_DESTINATION,
        # The destination itself (events, topic, dimensions) is UpdateConfigurationSetEventDestination.
        replace_on=frozenset({"configurationSetName", "eventDestinationName", "region"}),
        summary=_event_destination_summary,
        emulate=_emulate_event_destination,
        consequences={"delete": "bounce/complaint events no longer published there"},
    ),
    ResourceType(
        ACCOUNT_SUPPRESSION,
        # Deleting it changes nothing in AWS.
        replace_on=frozenset({"region"}),
        summary=lambda i: f"account-wide suppression of {','.join(i.get('suppressedReasons') or [])}",
        emulate=_emulate_account_suppression,
    ),
    ResourceType(
        TOPIC,
        replace_on=frozenset({"name", "namePrefix", "fifoTopic", "region"}),
        summary=lambda i: f"name={i['name']}",
        emulate=_emulate_topic,
        consequences={"delete": "feedback topic deleted with its subscriptions: nobody hears of bounces",
                      "replace": "feedback topic recreated: email subscribers must confirm again"},
    ),
    ResourceType(
        TOPIC_POLICY,
        replace_on=frozenset({"arn", "region"}),
        summary=_topic_policy_summary,
        emulate=_emulate_topic_policy,
    ),
    ResourceType(
        TOPIC_SUBSCRIPTION,
        # `topic` is the provider's `topic_arn`.
        replace_on=frozenset({"topic", "protocol", "endpoint", "region"}),
        summary=lambda i: f"{i['protocol']} {i['endpoint']}"
        + (" (must confirm)" if i["protocol"] != "sqs" else " (queue policy must allow the topic)"),
        emulate=_emulate_topic_subscription,
        consequences={"delete": "subscriber no longer notified of bounces and alarms"},
    ),
    ResourceType(
        METRIC_ALARM,
        # `name` is the provider's `alarm_name`; everything else is PutMetricAlarm.
        replace_on=frozenset({"name", "region"}),
        summary=lambda i: f"{i.get('namespace')} {i.get('metricName')} >= {percent(i.get('threshold'))} "
        f"({i.get('statistic')} over {int(i.get('period', 0))}s)",
        emulate=_emulate_metric_alarm,
        consequences={"delete": "reputation alarm removed"},
    ),
    ResourceType(
        BUCKET,
        replace_on=frozenset({"bucket", "bucketPrefix", "objectLockEnabled", "region"}),
        summary=lambda i: f"name={i['bucket']} force_destroy={i.get('forceDestroy')}",
        emulate=_emulate_bucket,
        consequences={"delete": "DMARC report bucket deleted (only when empty): stored reports are gone",
                      "replace": "DMARC report bucket recreated: stored reports stay in the old one"},
        computed={"arn": None, "bucketDomainName": None, "tagsAll": None},
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        BUCKET_PUBLIC_ACCESS_BLOCK,
        replace_on=frozenset({"bucket", "region"}),
        summary=lambda i: "public access blocked: " + ",".join(
            k for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets") if i.get(k)),
        emulate=_emulate_bucket_part,
        consequences={"delete": "the report bucket's public access block removed"},
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        BUCKET_OWNERSHIP,
        replace_on=frozenset({"bucket", "region"}),
        summary=lambda i: f"object_ownership={(i.get('rule') or {}).get('objectOwnership')}",
        emulate=_emulate_bucket_part,
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        BUCKET_ENCRYPTION,
        replace_on=frozenset({"bucket", "expectedBucketOwner", "region"}),
        summary=_encryption_summary,
        emulate=_emulate_bucket_part,
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        BUCKET_LIFECYCLE,
        replace_on=frozenset({"bucket", "expectedBucketOwner", "region"}),
        summary=_lifecycle_summary,
        emulate=_emulate_bucket_part,
        consequences={"delete": "DMARC reports no longer expire"},
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        BUCKET_POLICY,
        # `policy` is a PutBucketPolicy update.
        replace_on=frozenset({"bucket", "region"}),
        summary=_bucket_policy_summary,
        emulate=_emulate_bucket_part,
        consequences={"delete": "SES may no longer store DMARC reports: they bounce",
                      "replace": "bucket policy briefly removed: reports arriving meanwhile bounce"},
        import_id=lambda inputs, _: inputs["bucket"],
    ),
    ResourceType(
        RECEIPT_RULE_SET,
        replace_on=frozenset({"ruleSetName", "region"}),
        summary=lambda i: f"name={i['ruleSetName']}",
        emulate=_emulate_rule_set,
        consequences={"delete": "receipt rule set deleted with its rules: no more DMARC reports",
                      "replace": "receipt rule set recreated: reports bounce until it is active again"},
        computed={"arn": None},
        import_id=lambda inputs, _: inputs["ruleSetName"],
    ),
    ResourceType(
        RECEIPT_RULE,
        # Recipients, actions, scanning and TLS are UpdateReceiptRule.
        replace_on=frozenset({"name", "ruleSetName", "region"}),
        summary=_rule_summary,
        emulate=_emulate_rule,
        # Two rules use it: the DMARC reports' and `ses-mail prove --receiver`'s.
        consequences={"delete": "mail for the rule's recipients (DMARC reports, or prove's test messages) "
                                "no longer stored: it bounces"},
        computed={"arn": None},
        import_id=lambda inputs, _: f"{inputs['ruleSetName']}:{inputs['name']}",
    ),
    ResourceType(
        ACTIVE_RECEIPT_RULE_SET,
        replace_on=frozenset({"ruleSetName", "region"}),
        summary=lambda i: f"active set of the region: {i['ruleSetName']}",
        emulate=lambda name, inputs, region: (inputs["ruleSetName"], {
            "arn": f"arn:aws:ses:{_region(inputs, region)}:{ACCOUNT_ID}:receipt-rule-set/{inputs['ruleSetName']}",
            "region": _region(inputs, region)}),
        consequences={"delete": "no receipt rule set active in the region: SES receives no mail there",
                      "replace": "the region's active receipt rule set switched"},
        computed={"arn": None},
        import_id=lambda inputs, _: inputs["ruleSetName"],
    ),
)

_ALL = _ALL + (
    ResourceType(
        FUNCTION,
        # Code, runtime, role, environment and timeout update in place.
        replace_on=frozenset({"name", "packageType", "region"}),
        summary=lambda i: f"name={i['name']} runtime={i.get('runtime')} handler={i.get('handler')}",
        emulate=_emulate_function,
        consequences={"delete": "rotation function deleted: " + NOT_ROTATED + "; rotations already due fail",
                      "replace": "rotation function recreated under the same name"},
        computed={"arn": None, "qualifiedArn": None, "invokeArn": None, "version": None, "tagsAll": None},
        import_id=lambda inputs, _: inputs["name"],
    ),
    ResourceType(
        ROLE,
        # Its trust policy and description update in place.
        replace_on=frozenset({"name", "namePrefix", "path"}),
        summary=lambda i: (f"name={i['name']} path={i.get('path')} boundary={boundary_label(i.get('permissionsBoundary'))} "
                           "(assumed by Lambda only)"),
        emulate=_emulate_role,
        consequences={"delete": "rotation function's role deleted: rotations fail until it exists again",
                      "replace": "rotation function's role recreated: the secrets' policies name its new ARN"},
        computed={"arn": None, "uniqueId": None, "tagsAll": None},
        import_id=lambda inputs, _: inputs["name"],
    ),
    ResourceType(
        ROLE_POLICY,
        # `policy` is a PutRolePolicy update.
        replace_on=frozenset({"name", "namePrefix", "role"}),
        summary=lambda i: f"policy={i['name']} (access keys under the SMTP path, this stack's secrets, own logs)",
        emulate=lambda name, inputs, region: (f"{inputs['role']}:{inputs['name']}", {}),
        consequences={"delete": "rotation function's permissions removed: rotations fail"},
        import_id=lambda inputs, _: f"{inputs['role']}:{inputs['name']}",
    ),
    ResourceType(
        LOG_GROUP,
        replace_on=frozenset({"name", "namePrefix", "logGroupClass", "region"}),
        summary=lambda i: f"name={i['name']} retention={int(i.get('retentionInDays', 0))}d",
        emulate=_emulate_log_group,
        consequences={"delete": "rotation function's logs deleted (doctor reads rotation errors there)"},
        computed={"arn": None, "tagsAll": None},
        import_id=lambda inputs, _: inputs["name"],
    ),
    ResourceType(
        PERMISSION,
        # Every argument of AddPermission is ForceNew: a change removes the statement and adds it again.
        replace_on=frozenset({"action", "function", "principal", "sourceAccount", "sourceArn", "statementId",
                              "statementIdPrefix", "qualifier", "eventSourceToken", "principalOrgId",
                              "functionUrlAuthType", "region"}),
        summary=lambda i: f"{i['principal']} may {i['action']} for {i.get('sourceArn')}",
        emulate=_emulate_permission,
        consequences={"delete": "Secrets Manager may no longer invoke the rotation function: " + NOT_ROTATED,
                      "replace": "the function's invoke permission is removed and added again"},
        computed={"statementId": None},
        import_id=lambda inputs, _: f"{inputs['function']}/{inputs.get('statementId')}",
    ),
    ResourceType(
        SECRET_ROTATION,
        # The function and the schedule are a RotateSecret update.
        replace_on=frozenset({"secretId", "region"}),
        summary=_rotation_summary,
        emulate=_emulate_secret_rotation,
        consequences={"delete": "rotation schedule removed (CancelRotateSecret): this credential is no longer "
                      "rotated; its current password keeps working"},
        import_id=lambda inputs, _: str(inputs["secretId"]),
    ),
)

#: Every AWS resource type the program manages, by type token.
TYPES: dict[str, ResourceType] = {t.token: t for t in _ALL}


def describe(token: str) -> ResourceType | None:
    """The description of a type token, or None for a type the program does not manage."""
    return TYPES.get(token)
