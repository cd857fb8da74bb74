"""Compare the account with what the program registers for `existing:` domains.

The list of resources to adopt is never written down here: the real program runs under the
mock engine for the same roster and stack config (`ses_mail.review.engine.run_program`), with
the emulated provider answering from the account (real hosted zone ids, the identities' real
DKIM tokens). Its registrations then carry the exact record names, types and zones the program
will manage, and their types, names and parent chain go into the import file unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pulumi

from ses_mail.adoption import cloudflare as cf_adopt
from ses_mail.adoption import importfile
from ses_mail.adoption.account import Account, RecordSet
from ses_mail.adoption.importfile import Node
from ses_mail.findings import ERROR, Finding
from ses_mail.project import NAMESPACE, Project
from ses_mail.modes.dns import dns_provider
from ses_mail.resource_types import CLOUDFLARE_RECORD, IDENTITY, MAIL_FROM, RECORD, TYPES
from ses_mail.review.emulation import AwsMocks
from ses_mail.review.engine import run_program
from ses_mail.roster import Roster

_ZONE_TOKEN = "aws:route53/getZone:getZone"
#: The types adopt compares with the account and imports (each has an `import_id`).
ASSESSED = (IDENTITY, MAIL_FROM, RECORD, CLOUDFLARE_RECORD)
_FEEDBACK_MX = re.compile(r"^\d+ feedback-smtp\.[a-z0-9-]+\.amazonses\.com$")


@dataclass
class Item:
    """One resource the program registers for an adopted domain."""

    domain: str
    type: str
    name: str
    action: str                      # import (it exists) or create (it does not, yet)
    import_id: str = ""
    changes: list[str] = field(default_factory=list)   # what the first `pulumi up` changes
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"domain": self.domain, "type": self.type, "name": self.name, "action": self.action,
                "id": self.import_id or None, "changes": self.changes, "note": self.note or None}


@dataclass
class Referenced:
    domain: str
    arn: str
    status: str

    def as_json(self) -> dict[str, str]:
        return {"domain": self.domain, "arn": self.arn, "status": self.status}


@dataclass
class Assessment:
    stack: str
    region: str
    account: str
    items: list[Item]
    referenced: list[Referenced]
    findings: list[Finding]
    document: dict[str, Any] | None          # the import file, None when nothing to import

    @property
    def to_import(self) -> list[Item]:
        return [i for i in self.items if i.action == "import"]


class AccountMocks(AwsMocks):
    """The emulated provider, answering from the account where it matters for names and ids:
    hosted zone lookups return the real zone ids, identities the real DKIM tokens."""

    def __init__(self, *, zone_ids: Mapping[str, str], tokens: Mapping[str, list[str]],
                 cloudflare_zone_ids: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.zone_ids = dict(zone_ids)
        self.tokens = dict(tokens)
        self.cloudflare_zone_ids = dict(cloudflare_zone_ids or {})

    def call(self, args: pulumi.runtime.MockCallArgs):
        name = str(args.args.get("name", "")).rstrip(".").lower()
        if args.token == _ZONE_TOKEN and name in self.zone_ids:
            self.calls.append((args.token, dict(args.args)))
            zone_id = self.zone_ids[name]
            return {"name": name, "zoneId": zone_id, "id": zone_id, "privateZone": False,
                    "arn": f"arn:aws:route53:::hostedzone/{zone_id}"}
        cf_name = str((args.args.get("filter") or {}).get("name", "")).lower()
        if args.token == "cloudflare:index/getZone:getZone" and cf_name in self.cloudflare_zone_ids:
            self.calls.append((args.token, dict(args.args)))
            zone_id = self.cloudflare_zone_ids[cf_name]
            return {"id": zone_id, "zoneId": zone_id, "name": cf_name, "status": "active", "nameServers": []}
        return super().call(args)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        rid, outputs = super().new_resource(args)
        tokens = self.tokens.get(str(args.inputs.get("emailIdentity", "")).lower())
        if args.typ == IDENTITY and tokens:
            outputs["dkimSigningAttributes"] = {**outputs["dkimSigningAttributes"], "tokens": list(tokens)}
            self.registrations[-1].outputs = outputs
        return rid, outputs


def txt_value(value: str) -> str:
    """A TXT value as the provider holds it: Route 53's surrounding quotes removed (only those)."""
    return value[1:-1] if len(value) >= 2 and value[0] == '"' and value[-1] == '"' else value


def comparable(record: RecordSet) -> list[str]:
    values = [txt_value(v) if record.type in ("TXT", "SPF") else v for v in record.values]
    return sorted(values)


def _show(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def owner_domain(name: str, domains: Iterable[str]) -> str | None:
    """The most specific roster domain a DNS name belongs to."""
    name = name.rstrip(".").lower()
    matches = [d for d in domains if name == d or name.endswith("." + d)]
    return max(matches, key=len) if matches else None


class Assessor:
    def __init__(self, *, account: Account, roster: Roster, region: str, other_regions: Iterable[str]) -> None:
        self.account = account
        self.roster = roster
        self.region = region
        self.other_regions = list(other_regions)
        self.findings: list[Finding] = []
        self._record_sets: dict[tuple[str, str], list[RecordSet]] = {}

    def find(self, domain: str, code: str, message: str, fix: str) -> None:
        """Something that cannot be adopted safely (always an error: no import file is written)."""
        self.findings.append(Finding(code, ERROR, domain, message, fix))

    # --- SES -----------------------------------------------------------------------------
    def identities(self, domains: list[str]) -> dict[str, dict[str, Any] | None]:
        found = {d: self.account.identity(d, self.region) for d in domains}
        missing = [d for d, ident in found.items() if ident is None]
        if missing:
            elsewhere: dict[str, list[str]] = {}
            for region in self.other_regions:
                try:
                    names = self.account.identity_names(region)
                except Exception:  # a region not enabled for the account answers with an error
                    continue
                for d in missing:
                    if d in names:
                        elsewhere.setdefault(d, []).append(region)
            for d, regions in elsewhere.items():
                self.find(d, "identity-other-region",
                          f"the SES identity {d} exists in {', '.join(regions)}, not in the stack's SES region {self.region}",
                          f"set `pulumi config set ses-mail:region {regions[0]}` (the region this stack sends from), "
                          f"or delete the identity in {', '.join(regions)} if it is no longer used; then run "
                          "`ses-mail adopt` again")
        return found

    def identity_checks(self, domain: str, ident: Mapping[str, Any]) -> None:
        dkim = ident.get("DkimAttributes") or {}
        origin = dkim.get("SigningAttributesOrigin")
        if origin and origin != "AWS_SES":
            self.find(domain, "dkim-not-easy-dkim",
                      f"the identity signs with DKIM keys of origin {origin}, not Easy DKIM: the program sets "
                      "Easy DKIM, which would replace the keys and publish new DKIM tokens",
                      "use `existing: reference` for this domain (the identity stays as it is and only "
                      "credentials are created), or move it to Easy DKIM yourself first")

    # --- DMARC reports subdomain -------------------------------------------------------
    def reports_host(self, zone_ids: Mapping[str, str]) -> None:
        """The reports subdomain must receive no mail yet: an MX there (other than SES's inbound
        endpoint of this region, i.e. this stack's own) means its mail goes elsewhere."""
        from ses_mail.specs.report_receiving import domain_of, inbound_endpoint, parent_domain

        reports = self.roster.reports
        assert reports is not None
        host = domain_of(reports.address)
        parent = parent_domain(reports.address, self.roster.domains)
        zone_id = zone_ids.get(parent.hosted_zone)
        if zone_id is None:
            found = self.account.zone(parent.hosted_zone)
            zone_id = found.ids[0] if len(found.ids) == 1 else None
        if zone_id is None:
            return  # not in Route 53 here: doctor checks the public MX
        ours = {inbound_endpoint(self.region)} if self.region else set()
        mx = [v for r in self.record_sets(zone_id, host) if r.type == "MX" for v in r.values
              if v.split()[-1].rstrip(".").lower() not in ours]
        if mx:
            self.find(parent.name, "reports-host-receives-mail",
                      f"{host} already has MX records ({', '.join(mx)}): its mail goes elsewhere, and the reports "
                      f"address {reports.address} must be at a subdomain that receives no mail yet",
                      "choose another subdomain for `reports.address` (e.g. dmarc@dmarc-reports."
                      f"{parent.name}), then run `ses-mail adopt` again")

    # --- Route 53 ------------------------------------------------------------------------
    def record_sets(self, zone_id: str, name: str) -> list[RecordSet]:
        key = (zone_id, name)
        if key not in self._record_sets:
            self._record_sets[key] = self.account.record_sets(zone_id, name)
        return self._record_sets[key]

    def record_item(self, domain: str, node: Node) -> Item:
        inputs = node.inputs
        name, type_ = inputs["name"].rstrip(".").lower(), inputs["type"]
        wanted = sorted(inputs.get("records") or [])
        at_name = self.record_sets(inputs["zoneId"], name)
        same = next((r for r in at_name if r.type == type_), None)
        item = Item(domain, node.type, node.name, "import" if same else "create")
        where = f"{name} {type_}"

        cname = next((r for r in at_name if r.type == "CNAME"), None)
        if type_ != "CNAME" and cname is not None:
            self.find(domain, "cname-conflict",
                      f"{name} is a CNAME (to {', '.join(cname.values)}), but the program needs a {type_} record there, "
                      "and DNS allows no other record beside a CNAME",
                      f"replace the CNAME by the {type_} record yourself (or, for DMARC kept by a provider, set "
                      "`dmarc: false` on the domain), then run `ses-mail adopt` again")
            return item
        if type_ == "CNAME":
            others = [r.type for r in at_name if r.type != "CNAME"]
            if others:
                self.find(domain, "dkim-name-taken",
                          f"{name} holds {', '.join(others)} records, so the DKIM CNAME cannot be published there",
                          "remove those records (nothing but the DKIM CNAME belongs at a DKIM selector name)")
            token = name.split(".")[0]
            if same is not None and any(v.rstrip(".").lower().split(".")[0] != token for v in same.values):
                self.find(domain, "dkim-foreign-token",
                          f"the DKIM record {name} points at {', '.join(same.values)}, not at the identity's key "
                          f"{token}: it was published for another SES identity (deleted, in another region or "
                          "another account)",
                          f"find who signs with that key; if nobody, point the CNAME at {', '.join(wanted)} (or "
                          "delete it) and run `ses-mail adopt` again")
        if same is None:
            return item
        if same.routing:
            self.find(domain, "record-routing",
                      f"{where} is a record with {same.routing}, which the program's plain record cannot express",
                      "replace it by a simple record yourself, or manage this domain's DNS elsewhere")
        existing = comparable(same)
        reports = self.roster.reports
        reports_host = reports.address.rpartition("@")[2] if reports is not None else None
        # The reports subdomain's MX is SES receiving's, checked by reports_host(); any other is MAIL FROM.
        if type_ == "MX" and name != reports_host and any(not _FEEDBACK_MX.match(v.rstrip(".").lower())
                                                          for v in same.values):
            self.find(domain, "mail-from-mx-in-use",
                      f"{where} already routes mail elsewhere ({', '.join(same.values)}); as the MAIL FROM domain "
                      "its MX must point at SES's feedback endpoint, which would take that mail away",
                      "choose another `mail_from` label for the domain (one no mail is received at)")
        if type_ == "TXT":
            prefix = next((p for p in ("v=spf1", "v=DMARC1") if any(w.startswith(p) for w in wanted)), None)
            if prefix is not None:
                own = [v for v in existing if v.lower().startswith(prefix.lower())]
                other = [v for v in existing if not v.lower().startswith(prefix.lower())]
                what = "SPF" if prefix == "v=spf1" else "DMARC"
                if len(own) > 1:
                    self.find(domain, f"duplicate-{what.lower()}",
                              f"{where} holds {len(own)} {what} records ({_show(own)}); receivers treat more than one "
                              f"as an error, and it is not clear which one is meant",
                              f"keep one {what} record (or none) and run `ses-mail adopt` again; the roster's "
                              f"value then replaces it on the first `pulumi up`")
                if other:
                    self.find(domain, "unmanaged-txt",
                              f"{where} also holds values the program does not manage ({_show(other)}); the first "
                              "`pulumi up` would remove them, since the program owns the whole record set",
                              "move them to the name they belong at (or delete them if unused), then run "
                              "`ses-mail adopt` again")
        if existing != wanted:
            item.changes.append(f"records: {_show(existing)} → {_show(wanted)}")
        ttl = inputs.get("ttl")
        if ttl is not None and same.ttl is not None and int(ttl) != int(same.ttl):
            item.changes.append(f"ttl: {same.ttl} → {int(ttl)}")
        return item


def identity_changes(ident: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    changes = []
    dkim = ident.get("DkimAttributes") or {}
    want = (inputs.get("dkimSigningAttributes") or {}).get("nextSigningKeyLength")
    have = dkim.get("NextSigningKeyLength")
    if want and have != want:
        changes.append(f"DKIM next signing key length: {have or '(unset)'} → {want} (SES rotates the key; the DKIM "
                       "tokens and records stay)")
    if (ident.get("ConfigurationSetName") or None) != (inputs.get("configurationSetName") or None):
        changes.append(f"default configuration set: {ident.get('ConfigurationSetName') or '(none)'} → "
                       f"{inputs.get('configurationSetName') or '(none)'}")
    tags = {t["Key"]: t["Value"] for t in ident.get("Tags") or ()}
    if tags != dict(inputs.get("tags") or {}):
        changes.append(f"tags: {tags} → {dict(inputs.get('tags') or {})}")
    return changes


def mail_from_changes(attrs: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    changes = []
    if (attrs.get("MailFromDomain") or "").lower() != inputs.get("mailFromDomain", "").lower():
        changes.append(f"MAIL FROM domain: {attrs.get('MailFromDomain')} → {inputs.get('mailFromDomain')}")
    if inputs.get("behaviorOnMxFailure") and attrs.get("BehaviorOnMxFailure") != inputs["behaviorOnMxFailure"]:
        changes.append(f"behaviour on MX failure: {attrs.get('BehaviorOnMxFailure')} → {inputs['behaviorOnMxFailure']}")
    return changes


def identity_status(ident: Mapping[str, Any] | None) -> str:
    if ident is None:
        return "does not exist"
    dkim = ident.get("DkimAttributes") or {}
    verified = "verified for sending" if ident.get("VerifiedForSendingStatus") else "NOT verified for sending"
    return f"{verified}, DKIM {dkim.get('Status', 'not set up')}"


def assess(*, project: Project, stack: str, roster: Roster, roster_path: Path, region: str,
           stack_config: Mapping[str, str], account: Account, other_regions: Iterable[str],
           cloudflare: cf_adopt.CloudflareReader | None = None) -> Assessment:
    """Read the account (and, for `dns: cloudflare` domains, their Cloudflare zones through
    `cloudflare`) for the roster's `existing:` domains and work out the import file.

    Raises pulumi.RunError when the program refuses the roster or the stack config, and
    CloudflareAccessError when the Cloudflare token cannot read what is needed.
    """
    caller = account.caller()
    assessor = Assessor(account=account, roster=roster, region=region, other_regions=other_regions)
    adopt = [d for d in roster.domains if d.existing == "adopt"]
    refer = [d for d in roster.domains if d.existing == "reference"]
    idents = assessor.identities([d.name for d in adopt + refer])

    zone_ids: dict[str, str] = {}
    cf_zone_ids: dict[str, str] = {}      # zone name -> id, for the program's getZone
    cf_zone_of: dict[str, str] = {}       # adopted Cloudflare domain -> zone id
    cf_domains = [d for d in adopt if dns_provider(d.dns).cloudflare_zone]
    if cf_domains and cloudflare is None:
        raise cf_adopt.CloudflareAccessError("domains with dns: cloudflare need a Cloudflare API token: set "
                                             "CLOUDFLARE_API_TOKEN (read-only is enough: Zone Read and DNS Read)")
    for d in cf_domains:
        if d.zone_id:
            cf_zone_of[d.name] = d.zone_id
            continue
        found_zones = cloudflare.zone_by_name(d.hosted_zone)  # type: ignore[union-attr]
        if len(found_zones) != 1:
            assessor.find(d.name, "zone-missing", f"the Cloudflare API token sees no zone {d.hosted_zone} (for {d.name})",
                          "add the zone to the token's resources, give its id as `zone_id:`, or set `zone:`")
            continue
        cf_zone_ids[d.hosted_zone] = cf_zone_of[d.name] = found_zones[0].id
    for zone in sorted({d.hosted_zone for d in adopt if not dns_provider(d.dns).cloudflare_zone}):
        found = account.zone(zone)
        users = ", ".join(d.name for d in adopt if d.hosted_zone == zone)
        if not found.ids:
            assessor.find(users, "zone-missing", f"no public Route 53 hosted zone {zone} in this account (for {users})",
                          "create the zone or set `zone:` on the domain to the zone that holds its records")
        elif len(found.ids) > 1:
            assessor.find(users, "zone-ambiguous",
                          f"{len(found.ids)} public hosted zones are named {zone} ({', '.join(found.ids)})",
                          "delete the unused zone (the one the domain's NS records do not delegate to)")
        else:
            zone_ids[zone] = found.ids[0]

    if roster.reports is not None:
        assessor.reports_host(zone_ids)

    cfg = dict(stack_config)
    cfg[f"{NAMESPACE}:region"] = region
    provider_region = cfg.get("aws:region") or region
    cfg["aws:region"] = provider_region
    tokens = {d: list((i.get("DkimAttributes") or {}).get("Tokens") or []) for d, i in idents.items() if i}
    mocks = AccountMocks(region=provider_region, caller_arn=caller["arn"], zone_ids=zone_ids, tokens=tokens,
                         cloudflare_zone_ids=cf_zone_ids)
    run = run_program(project=project, stack=stack, roster=roster_path, stack_config=cfg, mocks=mocks)

    nodes = importfile.nodes_of(run)
    by_urn = {n.urn: n for n in nodes}
    names = [d.name for d in roster.domains]
    adopted = {d.name: d for d in adopt}
    items: list[Item] = []
    chosen: list[tuple[Node, str]] = []
    owners: dict[str, str] = {}      # component URN -> adopted domain (the identity's parent)
    for d in adopt:
        if idents.get(d.name) is not None:
            assessor.identity_checks(d.name, idents[d.name])  # type: ignore[arg-type]

    for node in nodes:
        if node.type == IDENTITY or node.type == MAIL_FROM:
            domain = str(node.inputs.get("emailIdentity", "")).lower()
        elif node.type in (RECORD, CLOUDFLARE_RECORD):
            domain = owner_domain(node.inputs.get("name", ""), names) or ""
        else:
            continue
        if domain not in adopted:
            continue
        if node.type == IDENTITY:
            owners[node.parent] = domain
        if node.type == RECORD and adopted[domain].hosted_zone not in zone_ids:
            continue  # no zone: reported above
        if node.type == CLOUDFLARE_RECORD:
            zone_id = str(node.inputs.get("zoneId", ""))
            if zone_id not in cf_zone_of.values():
                continue  # no zone: reported above
            record = cf_adopt.assess_record(domain, node.inputs, cloudflare.records(zone_id))  # type: ignore[union-attr]
            assessor.findings += record.findings
            item = Item(domain, node.type, node.name, record.action, changes=record.changes)
            if record.record_id:
                item.import_id = cf_adopt.record_import_id(node.inputs, record.record_id)
                chosen.append((node, item.import_id))
            items.append(item)
            continue
        ident = idents.get(domain)
        if node.type == IDENTITY:
            item = Item(domain, node.type, node.name, "import" if ident else "create")
            if ident:
                item.changes = identity_changes(ident, node.inputs)
                item.note = identity_status(ident)
        elif node.type == MAIL_FROM:
            attrs = (ident or {}).get("MailFromAttributes") or {}
            item = Item(domain, node.type, node.name, "import" if attrs.get("MailFromDomain") else "create")
            if item.action == "import":
                item.changes = mail_from_changes(attrs, node.inputs)
                item.note = f"MAIL FROM status {attrs.get('MailFromDomainStatus', '?')}"
        else:
            item = assessor.record_item(domain, node)
        if item.action == "import":
            import_id = TYPES[node.type].import_id
            assert import_id is not None  # every type assessed above has one
            item.import_id = import_id(node.inputs, provider_region)
            chosen.append((node, item.import_id))
        items.append(item)

    # Anything else the program registers under an adopted domain's component is not assessed
    # for import: say so rather than leave it out silently (`pulumi up` will create it).
    for node in nodes:
        if node.component or node.type in ASSESSED or node.type == importfile.STACK_TYPE:
            continue
        ancestors = {a.urn for a in importfile.ancestry(node, by_urn)} if node.parent else set()
        owner = next((owners[u] for u in ancestors if u in owners), None)
        if owner:
            items.append(Item(owner, node.type, node.name, "create",
                              note="no import rule for this type: `pulumi up` creates it"))

    referenced = [Referenced(d.name, (run.outputs.get("identities") or {}).get(d.name, ""),
                             identity_status(idents.get(d.name))) for d in refer]
    for ref in referenced:
        if idents.get(ref.domain) is None and not any(f.subject == ref.domain for f in assessor.findings):
            assessor.find(ref.domain, "reference-missing",
                          f"the referenced identity {ref.domain} does not exist in {region}: people of this domain "
                          "could not send",
                          "create and verify the identity where it is managed, or use `existing: adopt` "
                          "(or no `existing:`) to have this program manage it")

    document = importfile.build(nodes, chosen) if chosen else None
    order = {n.name: i for i, n in enumerate(nodes)}
    items.sort(key=lambda i: (names.index(i.domain) if i.domain in names else len(names), order.get(i.name, 0)))
    return Assessment(stack, region, caller["account"], items, referenced, assessor.findings, document)
