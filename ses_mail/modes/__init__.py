"""The modes a roster chooses between, one class each: delivery, DNS provider, existing.

Pure (no Pulumi import: tests/test_layout.py): the roster validates against these registries and
the components ask them what to build. A mode's resource-creating method receives the component
and reaches the SDK through `component.sdk("pulumi_aws")`, so the mode stays one class.
docs/architecture.md: adding a delivery mode or DNS provider.
"""
from ses_mail.modes.delivery import DeliveryMode, delivery_mode, delivery_modes, register_delivery
from ses_mail.modes.dns import DnsProvider, dns_provider, dns_providers, register_dns
from ses_mail.modes.existing import ExistingMode, existing_mode, existing_modes, register_existing

__all__ = ["DeliveryMode", "DnsProvider", "ExistingMode", "delivery_mode", "delivery_modes", "dns_provider",
           "dns_providers", "existing_mode", "existing_modes", "register_delivery", "register_dns",
           "register_existing"]
