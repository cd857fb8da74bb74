"""A deterministic emulation of what the AWS provider returns, for the Pulumi mock engine.

Every value derives from the resource's name and inputs, so two runs of the same roster
return the same ids, and fake values say so (`fake` DKIM tokens, `AKIAFAKE` key ids,
`FAKE` secrets). Property names are the provider's camelCase ones. What each resource type
returns is its `emulate` and `computed` in `ses_mail.resource_types`; invokes are answered here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.rpc import UNKNOWN

from ses_mail.resource_types import (ACCOUNT_ID, cloudflare_name_servers, describe, fake_access_key_id,
                                     fake_cloudflare_zone_id, fake_dkim_tokens, fake_secret_key, fake_zone_id)

# The fake values are made in ses_mail.resource_types; tests reach them here too.
__all__ = ["ACCOUNT_ID", "AwsMocks", "Registration", "cloudflare_name_servers", "fake_access_key_id",
           "fake_cloudflare_zone_id", "fake_dkim_tokens", "fake_secret_key", "fake_zone_id", "session_context"]


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
    #: The region's active SES receipt rule set (getActiveReceiptRuleSet); None: none is active.
    active_rule_set: str | None = None
    registrations: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if pulumi.runtime.is_dry_run():
            return self._planned(args)
        described = describe(args.typ)
        # An undescribed type gets a placeholder id (tests/test_resource_types.py fails on it).
        rid, extra = described.emulate(args.name, args.inputs, self.region) if described else (f"{args.name}-id", {})
        outputs = {**args.inputs, **extra}
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), outputs, rid))
        return rid, outputs

    def _planned(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """A create as `pulumi preview` plans it: the inputs, and every property AWS computes
        unknown (the id too: an empty id reads as unknown in a dry run)."""
        outputs = dict(args.inputs)
        described = describe(args.typ)
        for key, value in (described.computed if described else {}).items():
            if isinstance(value, tuple):  # an input object with computed members
                given = outputs.get(key)
                outputs[key] = {**(given if isinstance(given, dict) else {}),
                                **{member: UNKNOWN for member in value}}
            else:
                outputs[key] = UNKNOWN
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), outputs, ""))
        return "", outputs

    # The SDK's mock monitor also takes a plain dict (no failures), which its annotation leaves out.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict | tuple[dict, list[tuple[str, str]]]:  # type: ignore[override]
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
        if args.token == "aws:ses/getActiveReceiptRuleSet:getActiveReceiptRuleSet":
            region = args.args.get("region") or self.region
            if self.active_rule_set is None:
                # As the provider (terraform-provider-aws, active_receipt_rule_set_data_source.go):
                # DescribeActiveReceiptRuleSet without metadata is an error of the data source.
                return {}, [("", "reading SES Active Receipt Rule Set: empty result")]
            return {"ruleSetName": self.active_rule_set, "id": region, "region": region,
                    "arn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:receipt-rule-set/{self.active_rule_set}"}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            return session_context(args.args["arn"], self.role_paths)
        raise NotImplementedError(f"the offline AWS emulation has no invoke {args.token}")


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
