"""One SES sending domain: identity with Easy DKIM, custom MAIL FROM, and its Route53 records."""
from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from ses_mail.components.cloudflare_dns import publish_cloudflare_records
from ses_mail.specs.dns_records import DKIM_RECORD_TYPE, DKIM_TOKEN_COUNT, DnsRecord, dkim_records, route53_values, static_records
from ses_mail.specs.deliverability import MX_FAILURE, verification_requirements
from ses_mail.specs.naming import domain_resource
from ses_mail.roster import Domain

DKIM_KEY_LENGTH = "RSA_2048_BIT"


class SendingDomain(pulumi.ComponentResource):
    """An SES domain identity authenticated in DNS.

    `dns_records` lists every record the domain needs (name, type, value, ttl). With
    `dns: route53` (the default) they are created in the hosted zone `zone_id`, without
    `allow_overwrite`, so an existing record of the same name and type makes `pulumi up` fail
    instead of silently replacing someone else's record. With `dns: external` no record
    resource exists and `zone_id` is None: whoever keeps the domain's DNS publishes them. With
    `dns: cloudflare`, `zone_id` is the Cloudflare zone's id and they are Cloudflare DNS records.
    """

    identity: aws.sesv2.EmailIdentity
    identity_arn: pulumi.Output[str]
    dns_records: pulumi.Output[list]

    def __init__(self, domain: Domain, *, region: str, zone_id: Optional[pulumi.Input[str]],
                 opts: Optional[pulumi.ResourceOptions] = None,
                 configuration_set_name: Optional[pulumi.Input[str]] = None,
                 report_records: Sequence[DnsRecord] = (),
                 verify_minutes: Optional[int] = None,
                 after: Sequence[pulumi.Resource] = ()) -> None:
        """`configuration_set_name`: the identity's default configuration set (none when None).
        `report_records`: DMARC report authorisations this domain publishes for other domains.
        `verify_minutes`: make `pulumi up` wait at most this long for SES's verification.
        `after`: resources the identity waits for: the send policies of the domain's people, so
        that the default configuration set never applies to a send before the policies allow it."""
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
            configuration_set_name=configuration_set_name,
            # Deleting an identity stops all sending from the domain at once: require an
            # explicit `protect: false` in the roster (and an apply) before that can happen.
            opts=pulumi.ResourceOptions(parent=self, protect=domain.protect, retain_on_delete=retain,
                                        depends_on=list(after)),
        )
        self.identity_arn = self.identity.arn

        tokens = self.identity.dkim_signing_attributes.apply(lambda attrs: list(attrs.tokens or []))
        dkim = tokens.apply(lambda t: dkim_records(domain, t, region))
        # Known before anything exists: plain values, fully shown by `pulumi preview`.
        static = [*static_records(domain, region), *report_records]
        records: list[aws.route53.Record] = []
        dkim_resources: list[aws.route53.Record] = []
        if domain.dns == "route53":
            if zone_id is None:
                raise ValueError(f"{domain.name}: dns route53 needs the hosted zone's id")
            # Selector slots 1..3 of SES's token list, not positions in the roster. Only name and
            # value wait for SES's tokens: type and TTL stay plain, so a preview shows them.
            for slot in range(DKIM_TOKEN_COUNT):
                spec = dkim.apply(lambda records, i=slot: records[i])
                dkim_resources.append(self._record(
                    domain, f"dkim-{slot + 1}", zone_id, child, name=spec.apply(lambda r: r.name),
                    type_=DKIM_RECORD_TYPE, values=spec.apply(route53_values)))
            records = [self._record(domain, spec.purpose, zone_id, child, name=spec.name, type_=spec.type,
                                    values=route53_values(spec))
                       for spec in static]
        elif domain.dns == "cloudflare":
            # The Cloudflare DNS mode: `zone_id` is the Cloudflare zone's (ses_mail.components.cloudflare_dns).
            if zone_id is None:
                raise ValueError(f"{domain.name}: dns cloudflare needs the Cloudflare zone's id")
            published = publish_cloudflare_records(domain, zone_id=zone_id, static=static, dkim=dkim, opts=child)
            records, dkim_resources = published.records, published.dkim  # type: ignore[assignment]

        aws.sesv2.EmailIdentityMailFromAttributes(
            domain_resource(domain.name, "mail-from"),
            email_identity=self.identity.email_identity,
            mail_from_domain=domain.mail_from_domain,
            # By default, if the MX ever disappears, fall back to amazonses.com rather than reject mail.
            behavior_on_mx_failure=MX_FAILURE[domain.mail_from_mx_failure],
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=records, retain_on_delete=retain),
        )

        if verify_minutes:
            # No sesv2 waiter exists; the SES v1 one polls the same identity (README, Verification).
            aws.ses.DomainIdentityVerification(
                domain_resource(domain.name, "verification"),
                domain=self.identity.email_identity,
                region=region,
                opts=pulumi.ResourceOptions(parent=self, depends_on=dkim_resources, retain_on_delete=retain,
                                            custom_timeouts=pulumi.CustomTimeouts(create=f"{verify_minutes}m")),
            )

        self.dns_records = dkim.apply(lambda dkim_specs: [r.as_row() for r in [*dkim_specs, *static]])
        self.verification = dkim.apply(lambda dkim_specs: verification_requirements(
            dkim_specs, static, verify_minutes, MX_FAILURE[domain.mail_from_mx_failure]))
        self.register_outputs({"identity_arn": self.identity_arn, "dns_records": self.dns_records})

    @staticmethod
    def _record(domain: Domain, purpose: str, zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions, *,
                name: pulumi.Input[str], type_: str, values: pulumi.Input[list]) -> aws.route53.Record:
        return aws.route53.Record(
            domain_resource(domain.name, purpose),
            zone_id=zone_id,
            name=name,
            type=type_,
            ttl=domain.ttl,
            records=values,
            opts=opts,
        )
