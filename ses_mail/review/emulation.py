"""A deterministic emulation of what the AWS provider returns, for the Pulumi mock engine.

Every value derives from the resource's name and inputs, so two runs of the same roster
return the same ids, and fake values say so (`fake` DKIM tokens, `AKIAFAKE` key ids,
`FAKE` secrets). Property names are the provider's camelCase ones.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
from pulumi.runtime.rpc import UNKNOWN

ACCOUNT_ID = "123456789012"


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()


def fake_dkim_tokens(domain: str) -> list[str]:
    # Real tokens are 32 lowercase base32 characters; these keep the length and say "fake".
    return ["fake" + base64.b32encode(_digest("dkim", domain, str(i))).decode().lower()[:28] for i in range(3)]


def fake_access_key_id(name: str) -> str:
    return "AKIAFAKE" + _digest("key-id", name).hex().upper()[:12]


def fake_secret_key(name: str) -> str:
    return "FAKE" + base64.b64encode(_digest("secret", name)).decode()[:36]


def fake_cloudflare_zone_id(zone: str) -> str:
    """32 hexadecimal characters, as Cloudflare's zone ids."""
    return _digest("cloudflare-zone", zone).hex()[:32]


def cloudflare_name_servers(zone: str) -> tuple[str, str]:
    """The two name servers Cloudflare assigns a zone (<name>.ns.cloudflare.com)."""
    names = ("ada", "bob", "cruz", "dina", "eli", "fay")
    digest = _digest("cloudflare-ns", zone)
    return f"{names[digest[0] % 6]}.ns.cloudflare.com", f"{names[digest[1] % 6]}.ns.cloudflare.com"


def fake_zone_id(zone: str) -> str:
    return "ZFAKE" + _digest("zone", zone).hex().upper()[:16]


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str


@dataclass
class AwsMocks(pulumi.runtime.Mocks):
    """Emulates pulumi-aws 7.x for the resource types this program uses.

    `zones`: hosted zone names that exist; None means every zone asked for exists.
    `caller_arn`: who runs the program (getCallerIdentity); an STS assumed-role ARN is
    resolved to its role by getSessionContext, as the provider does, with the role's path
    from `role_paths` (role name -> path; default `/`).
    """

    region: str = "us-east-1"
    zones: set[str] | None = None
    #: Cloudflare zone names the API token sees (getZone); None means every zone asked for.
    cloudflare_zones: set[str] | None = None
    # Offline runs emulate a deployer set up as the README says: under the default admin path.
    caller_arn: str = f"arn:aws:iam::{ACCOUNT_ID}:user/ses-mail-admin/fake"
    role_paths: dict[str, str] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if pulumi.runtime.is_dry_run():
            return self._planned(args)
        handler: Callable[[str, dict, AwsMocks], tuple[str, dict]] = _HANDLERS.get(args.typ, _default)
        rid, extra = handler(args.name, args.inputs, self)
        outputs = {**args.inputs, **extra}
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), outputs, rid))
        return rid, outputs

    def _planned(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """A create as `pulumi preview` plans it: the inputs, and every property AWS computes
        unknown (the id too: an empty id reads as unknown in a dry run)."""
        outputs = dict(args.inputs)
        for key, value in COMPUTED.get(args.typ, {}).items():
            if isinstance(value, tuple):  # an input object with computed members
                given = outputs.get(key)
                outputs[key] = {**(given if isinstance(given, dict) else {}),
                                **{member: UNKNOWN for member in value}}
            else:
                outputs[key] = UNKNOWN
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), outputs, ""))
        return "", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict | tuple[dict, list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:route53/getZone:getZone":
            name = args.args["name"].rstrip(".")
            if self.zones is not None and name not in self.zones:
                # As the provider does: the invoke fails (the SDK raises), nothing is returned.
                return {}, [("name", f"no matching Route 53 Hosted Zone found for {name!r}")]
            zone_id = fake_zone_id(name)
            return {"name": name, "zoneId": zone_id, "id": zone_id, "privateZone": False,
                    "arn": f"arn:aws:route53:::hostedzone/{zone_id}"}
        if args.token == "cloudflare:index/getZone:getZone":
            name = (args.args.get("filter") or {}).get("name", "").rstrip(".")
            if self.cloudflare_zones is not None and name not in self.cloudflare_zones:
                return {}, [("filter", f"no Cloudflare zone named {name!r} is visible to this API token")]
            zone_id = fake_cloudflare_zone_id(name)
            return {"id": zone_id, "zoneId": zone_id, "name": name, "status": "active",
                    "nameServers": list(cloudflare_name_servers(name))}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.caller_arn.split(":")[4], "arn": self.caller_arn, "userId": "AIDAFAKE",
                    "id": self.caller_arn.split(":")[4]}
        if args.token == "aws:index/getRegion:getRegion":
            region = args.args.get("region") or self.region
            return {"region": region, "name": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                    "description": ""}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            return session_context(args.args["arn"], self.role_paths)
        raise NotImplementedError(f"the offline AWS emulation has no invoke {args.token}")


def _default(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return f"{name}-id", {}


def _email_identity(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    identity = inputs["emailIdentity"]
    region = inputs.get("region") or mocks.region
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


def _mail_from(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return inputs["emailIdentity"], {"region": inputs.get("region") or mocks.region}


def _record(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    fqdn = inputs["name"]
    return f"{inputs['zoneId']}_{fqdn}_{inputs['type']}", {"fqdn": fqdn}


def _cloudflare_record(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    # Cloudflare's record ids are 32 hexadecimal characters; the name comes back as the FQDN.
    rid = _digest("cloudflare-record", inputs["zoneId"], inputs["name"], inputs["type"]).hex()[:32]
    return rid, {"proxiable": inputs["type"] in ("A", "AAAA", "CNAME"), "createdOn": "2026-01-01T00:00:00Z"}


def _user(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    user = inputs["name"]
    path = inputs.get("path", "/")
    return user, {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user{path}{user}",
        "uniqueId": "AIDAFAKE" + _digest("user", user).hex().upper()[:13],
        "path": path,
        "tagsAll": inputs.get("tags", {}),
    }


def _user_policy(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return f"{inputs['user']}:{inputs['name']}", {}


def _access_key(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    from ses_mail.specs.smtp_password import smtp_password  # the provider derives v4 with its own region

    secret = fake_secret_key(name)
    out: dict[str, Any] = {
        "status": inputs.get("status", "Active"),
        "createDate": "2026-01-01T00:00:00Z",
    }
    if inputs.get("pgpKey"):
        out["encryptedSecret"] = "FAKE-PGP-" + _digest("enc-secret", name).hex()
        out["encryptedSesSmtpPasswordV4"] = "FAKE-PGP-" + _digest("enc-smtp", name).hex()
        out["keyFingerprint"] = _digest("fpr", inputs["pgpKey"]).hex()[:40]
    else:
        out["secret"] = secret
        out["sesSmtpPasswordV4"] = smtp_password(secret, mocks.region)
    return fake_access_key_id(name), out


def session_context(arn: str, role_paths: dict[str, str] | None = None) -> dict[str, str]:
    """getSessionContext: an assumed-role session's issuer is its role, with the role's path
    (not in the session ARN: the real data source looks the role up; here `role_paths`)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        _, role, session = parts[5].split("/", 2)
        issuer = f"arn:{parts[1]}:iam::{parts[4]}:role{(role_paths or {}).get(role, '/')}{role}"
        return {"arn": arn, "id": arn, "issuerArn": issuer, "issuerId": "AROAFAKE", "issuerName": role,
                "sessionName": session}
    return {"arn": arn, "id": arn, "issuerArn": arn, "issuerId": "", "issuerName": "", "sessionName": ""}


def fake_secret_suffix(name: str) -> str:
    # Secrets Manager appends a hyphen and six random characters to a secret's ARN.
    return base64.b64encode(_digest("secret-suffix", name)).decode().replace("+", "x").replace("/", "y")[:6]


def _secret(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    region = inputs.get("region") or mocks.region
    secret = inputs["name"]
    arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}-{fake_secret_suffix(secret)}"
    return arn, {"arn": arn, "region": region, "tagsAll": inputs.get("tags", {}),
                 "recoveryWindowInDays": inputs.get("recoveryWindowInDays", 30)}


def _secret_version(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    version = "fake-" + _digest("secret-version", name, str(inputs.get("secretString"))).hex()[:27]
    secret_id = inputs["secretId"]
    return f"{secret_id}|{version}", {"arn": secret_id, "versionId": version, "versionStages": ["AWSCURRENT"],
                                      "region": inputs.get("region") or mocks.region}


def _secret_policy(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return inputs["secretArn"], {"region": inputs.get("region") or mocks.region}


#: What AWS computes, per type: unknown in a preview of a create. A tuple lists the computed
#: members of an input object. Invokes (zones, caller) run in previews too, so they stay known.
COMPUTED: dict[str, dict[str, Any]] = {
    "aws:sesv2/emailIdentity:EmailIdentity": {
        "arn": None, "identityType": None, "verifiedForSendingStatus": None,
        "dkimSigningAttributes": ("tokens", "status", "currentSigningKeyLength", "signingAttributesOrigin"),
    },
    "aws:route53/record:Record": {"fqdn": None},
    "cloudflare:index/dnsRecord:DnsRecord": {"proxiable": None, "createdOn": None, "modifiedOn": None, "meta": None},
    "aws:iam/user:User": {"arn": None, "uniqueId": None, "tagsAll": None},
    "aws:iam/accessKey:AccessKey": {
        "secret": None, "sesSmtpPasswordV4": None, "encryptedSecret": None,
        "encryptedSesSmtpPasswordV4": None, "keyFingerprint": None, "createDate": None,
    },
    "aws:secretsmanager/secret:Secret": {"arn": None, "tagsAll": None},
    "aws:secretsmanager/secretVersion:SecretVersion": {"arn": None, "versionId": None, "versionStages": None},
}

def _configuration_set(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    region = inputs.get("region") or mocks.region
    set_name = inputs["configurationSetName"]
    return set_name, {"arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{set_name}", "region": region,
                      "tagsAll": inputs.get("tags", {})}


def _event_destination(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    # The provider's id: "<configuration set>|<event destination>".
    return f"{inputs['configurationSetName']}|{inputs['eventDestinationName']}", {
        "region": inputs.get("region") or mocks.region}


def _topic(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    region = inputs.get("region") or mocks.region
    arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{inputs['name']}"
    return arn, {"arn": arn, "owner": ACCOUNT_ID, "region": region, "tagsAll": inputs.get("tags", {})}


def _topic_policy(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return inputs["arn"], {"owner": ACCOUNT_ID, "region": inputs.get("region") or mocks.region}


def _topic_subscription(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    # SNS returns the subscription's ARN even while it awaits confirmation (ReturnSubscriptionArn);
    # email and https endpoints stay pending until they confirm, a same-account SQS queue does not.
    arn = f"{inputs['topic']}:fake{_digest('subscription', inputs['endpoint']).hex()[:8]}-0000-4000-8000-000000000000"
    return arn, {"arn": arn, "ownerId": ACCOUNT_ID, "confirmationWasAuthenticated": False,
                 "pendingConfirmation": inputs["protocol"] != "sqs", "region": inputs.get("region") or mocks.region}


def _metric_alarm(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    region = inputs.get("region") or mocks.region
    alarm = inputs["name"]
    return alarm, {"arn": f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{alarm}", "region": region,
                   "tagsAll": inputs.get("tags", {})}


def _account_suppression(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    return ACCOUNT_ID, {"region": inputs.get("region") or mocks.region}


def _identity_verification(name: str, inputs: dict, mocks: AwsMocks) -> tuple[str, dict]:
    region = inputs.get("region") or mocks.region
    return inputs["domain"], {"arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{inputs['domain']}", "region": region}


_HANDLERS = {
    "aws:sesv2/configurationSet:ConfigurationSet": _configuration_set,
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": _event_destination,
    "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes": _account_suppression,
    "aws:ses/domainIdentityVerification:DomainIdentityVerification": _identity_verification,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": _topic_subscription,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:sesv2/emailIdentity:EmailIdentity": _email_identity,
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": _mail_from,
    "aws:route53/record:Record": _record,
    "cloudflare:index/dnsRecord:DnsRecord": _cloudflare_record,
    "aws:iam/user:User": _user,
    "aws:iam/userPolicy:UserPolicy": _user_policy,
    "aws:iam/accessKey:AccessKey": _access_key,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:secretsmanager/secretPolicy:SecretPolicy": _secret_policy,
}
