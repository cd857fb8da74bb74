"""One SES sending domain: identity with Easy DKIM, custom MAIL FROM, and its Route53 records."""
from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from ses_mail.specs.dns_records import DKIM_TOKEN_COUNT, DnsRecord, dkim_records, route53_values, static_records
from ses_mail.specs.naming import domain_resource
from ses_mail.roster import Domain

DKIM_KEY_LENGTH = "RSA_2048_BIT"


class SendingDomain(pulumi.ComponentResource):
    """An SES domain identity authenticated in DNS.

    `dns_records` lists every record it manages (name, type, value, ttl), for whoever keeps DNS
    elsewhere. Records are created without `allow_overwrite`, so an existing record of the same
    name and type makes `pulumi up` fail instead of silently replacing someone else's record.
    """

    identity: aws.sesv2.EmailIdentity
    identity_arn: pulumi.Output[str]
    dns_records: pulumi.Output[list]

    def __init__(self, domain: Domain, *, region: str, zone_id: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("ses-mail:index:SendingDomain", domain.name, None, opts)
        # `existing: adopt`: what existed before this stack is never deleted by it; removing the
        # domain (or `pulumi destroy`) releases these resources from the stack instead.
        retain = domain.existing == "adopt"
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=retain)

        self.identity = aws.sesv2.EmailIdentity(
            domain_resource(domain.name, "identity"),
            email_identity=domain.name,
            region=region,
            dkim_signing_attributes={"next_signing_key_length": DKIM_KEY_LENGTH},
            # Deleting an identity stops all sending from the domain at once: require an
            # explicit `protect: false` in the roster (and an apply) before that can happen.
            opts=pulumi.ResourceOptions(parent=self, protect=domain.protect, retain_on_delete=retain),
        )
        self.identity_arn = self.identity.arn

        tokens = self.identity.dkim_signing_attributes.apply(lambda attrs: list(attrs.tokens or []))
        dkim = tokens.apply(lambda t: dkim_records(domain, t, region))
        # Selector slots 1..3 of SES's token list, not positions in the roster.
        for slot in range(DKIM_TOKEN_COUNT):
            spec = dkim.apply(lambda records, i=slot: records[i])
            self._record(domain, f"dkim-{slot + 1}", zone_id, spec, child)

        static = static_records(domain, region)
        records = [self._record(domain, spec.purpose, zone_id, pulumi.Output.from_input(spec), child)
                   for spec in static]

        aws.sesv2.EmailIdentityMailFromAttributes(
            domain_resource(domain.name, "mail-from"),
            email_identity=self.identity.email_identity,
            mail_from_domain=domain.mail_from_domain,
            # If the MX ever disappears, fall back to amazonses.com rather than reject mail.
            behavior_on_mx_failure="USE_DEFAULT_VALUE",
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=records, retain_on_delete=retain),
        )

        self.dns_records = dkim.apply(lambda dkim_specs: [r.as_row() for r in [*dkim_specs, *static]])
        self.register_outputs({"identity_arn": self.identity_arn, "dns_records": self.dns_records})

    @staticmethod
    def _record(domain: Domain, purpose: str, zone_id: pulumi.Input[str],
                spec: pulumi.Output[DnsRecord], opts: pulumi.ResourceOptions) -> aws.route53.Record:
        return aws.route53.Record(
            domain_resource(domain.name, purpose),
            zone_id=zone_id,
            name=spec.apply(lambda r: r.name),
            type=spec.apply(lambda r: r.type),
            ttl=domain.ttl,
            records=spec.apply(route53_values),
            opts=opts,
        )
