"""One SES sending domain: identity with Easy DKIM, custom MAIL FROM, and its Route53 records.

No `from __future__ import annotations`: the Args TypedDict's `NotRequired` markers must be
evaluated for its optional keys (`__optional_keys__`) to be right at run time.
"""

import importlib
from typing import Any, NotRequired, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws

from ses_mail.modes.dns import dns_provider
from ses_mail.modes.existing import existing_mode
from ses_mail.specs.dns_records import DnsRecord, dkim_records, static_records
from ses_mail.specs.deliverability import MX_FAILURE, verification_requirements
from ses_mail.specs.naming import domain_resource
from ses_mail.roster import Domain

DKIM_KEY_LENGTH = "RSA_2048_BIT"


class SendingDomainArgs(TypedDict):
    """What `SendingDomain` builds from."""

    domain: Domain
    """The roster's domain (validated): its identity, records and their names. Required."""
    region: str
    """SES region of the identity. Required."""
    zone_id: NotRequired[Optional[pulumi.Input[str]]]
    """Hosted zone the domain's DNS provider publishes the records in. Default: None (no zone: `dns: external`)."""
    configuration_set_name: NotRequired[Optional[pulumi.Input[str]]]
    """The identity's default configuration set. Default: None (no default set)."""
    report_records: NotRequired[Sequence[DnsRecord]]
    """DMARC report authorisations this domain publishes for other domains. Default: none."""
    verify_minutes: NotRequired[Optional[int]]
    """Make `pulumi up` wait at most this long for SES's verification. Default: None (no waiting)."""
    after: NotRequired[Sequence[pulumi.Resource]]
    """Resources the identity waits for: the send policies of the domain's people, so that the default
    configuration set never applies to a send before the policies allow it. Default: none."""


class SendingDomain(pulumi.ComponentResource):
    """An SES domain identity authenticated in DNS.

    `dns_records` lists every record the domain needs (name, type, value, ttl). With
    `dns: route53` (the default) they are created in the hosted zone `zone_id`, without
    `allow_overwrite`, so an existing record of the same name and type makes `pulumi up` fail
    instead of silently replacing someone else's record. With `dns: external` no record
    resource exists and `zone_id` is None: whoever keeps the domain's DNS publishes them. With
    `dns: cloudflare`, `zone_id` is the Cloudflare zone's and they are Cloudflare DNS records.

    Children a program may read or adjust (e.g. with the `transforms` resource option):
    `identity`, `mail_from`, `records` (the DNS record resources) and `verification_wait` (None
    unless the roster makes `pulumi up` wait for SES's verification).
    """

    identity: aws.sesv2.EmailIdentity
    mail_from: aws.sesv2.EmailIdentityMailFromAttributes
    records: list[pulumi.Resource]
    verification_wait: Optional[aws.ses.DomainIdentityVerification]
    identity_arn: pulumi.Output[str]
    dns_records: pulumi.Output[list]
    verification: pulumi.Output[dict]

    def __init__(self, name: str, args: SendingDomainArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("ses-mail:index:SendingDomain", name, None, opts)
        domain, region = args["domain"], args["region"]
        verify_minutes = args.get("verify_minutes")
        # `existing: adopt`: what existed before this stack is never deleted by it; removing the
        # domain (or `pulumi destroy`) releases these resources from the stack instead.
        retain = existing_mode(domain.existing).retain_on_delete
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=retain)

        self.identity = aws.sesv2.EmailIdentity(
            domain_resource(domain.name, "identity"),
            email_identity=domain.name,
            region=region,
            dkim_signing_attributes={"next_signing_key_length": DKIM_KEY_LENGTH},
            configuration_set_name=args.get("configuration_set_name"),
            # Deleting an identity stops all sending from the domain at once: require an
            # explicit `protect: false` in the roster (and an apply) before that can happen.
            opts=pulumi.ResourceOptions(parent=self, protect=domain.protect, retain_on_delete=retain,
                                        depends_on=list(args.get("after", ()))),
        )
        self.identity_arn = self.identity.arn

        tokens = self.identity.dkim_signing_attributes.apply(lambda attrs: list(attrs.tokens or []))
        dkim = tokens.apply(lambda t: dkim_records(domain, t, region))
        # Known before anything exists: plain values, fully shown by `pulumi preview`.
        static = [*static_records(domain, region), *args.get("report_records", ())]
        # The domain's DNS provider creates its records (none when kept elsewhere).
        self._domain = domain
        records, dkim_resources = dns_provider(domain.dns).publish(self, domain, args.get("zone_id"), dkim, static, child)
        self.records = [*dkim_resources, *records]

        self.mail_from = aws.sesv2.EmailIdentityMailFromAttributes(
            domain_resource(domain.name, "mail-from"),
            email_identity=self.identity.email_identity,
            mail_from_domain=domain.mail_from_domain,
            # By default, if the MX ever disappears, fall back to amazonses.com rather than reject mail.
            behavior_on_mx_failure=MX_FAILURE[domain.mail_from_mx_failure],
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=records, retain_on_delete=retain),
        )

        self.verification_wait = None
        if verify_minutes:
            # No sesv2 waiter exists; the SES v1 one polls the same identity (docs/deliverability.md).
            self.verification_wait = aws.ses.DomainIdentityVerification(
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

    def resource_name(self, purpose: str) -> str:
        """A child's name: the domain and what the child is for (never a position)."""
        return domain_resource(self._domain.name, purpose)

    @staticmethod
    def sdk(package: str) -> Any:
        """The Pulumi SDK or a provider package, for the pure DNS providers (ses_mail.modes)."""
        return importlib.import_module(package)
