"""SesMail from a consumer's program: its children are reachable and typed, and Pulumi's
`transforms` resource option on it reaches every child (docs/component.md)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ses_mail.project import find_project
from ses_mail.review.engine import ProgramRun, run_program
from ses_mail.specs.naming import iam_user_name

ROSTER = """
domains:
  - name: test1.com
people:
  - email: taro@test1.com
    name: Taro Yamada
  - email: hanako@test1.com
deliverability:
  notify: [ops@test1.com]
"""

#: The consumer program of docs/component.md: reads children, and tags every IAM user it makes.
PROGRAM = '''
import pulumi
import pulumi_aws as aws

from ses_mail import SesMail
from ses_mail.components.sending_domain import SendingDomain
from ses_mail.components.smtp_sender import SmtpSender
from ses_mail.components.deliverability import Deliverability


def tag_iam_users(args: pulumi.ResourceTransformArgs):
    """Runs for SesMail and every resource under it; changes only IAM users."""
    if args.type_ != "aws:iam/user:User":
        return None
    tags = {**(args.props.get("tags") or {}), "cost-centre": "mail"}
    return pulumi.ResourceTransformResult(props={**args.props, "tags": tags}, opts=args.opts)


mail = SesMail("mail", {"roster": "roster.yaml"},
               opts=pulumi.ResourceOptions(transforms=[tag_iam_users]))

domain = mail.domains["test1.com"]
taro = mail.people["taro@test1.com"]
assert isinstance(domain, SendingDomain) and isinstance(taro, SmtpSender)
assert isinstance(mail.deliverability, Deliverability) and mail.feedback is mail.deliverability
assert isinstance(domain.identity, aws.sesv2.EmailIdentity)
assert isinstance(domain.mail_from, aws.sesv2.EmailIdentityMailFromAttributes)
assert isinstance(taro.user, aws.iam.User) and isinstance(taro.policy, aws.iam.UserPolicy)
pulumi.export("children", {
    "identity": domain.identity.email_identity,
    "mail_from": domain.mail_from.mail_from_domain,
    "records": [r.urn for r in domain.records],
    "user": taro.user.name,
    "keys": {str(g): k.id for g, k in taro.access_keys.items()},
    "secret": taro.secret is None,
    "configuration_set": mail.deliverability.configuration_set.configuration_set_name,
    "topic": mail.deliverability.topic.name,
    "alarms": {k: a.threshold for k, a in mail.deliverability.alarms.items()},
    "subscriptions": sorted(mail.deliverability.subscriptions),
})
'''


@pytest.fixture
def consumer(tmp_path: Path) -> ProgramRun:
    (tmp_path / "Pulumi.yaml").write_text("name: mail-consumer\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n", encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(textwrap.dedent(ROSTER).lstrip(), encoding="utf-8")
    (tmp_path / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    return run_program(project=find_project(tmp_path), stack="dev")


def test_a_consumer_reads_the_children(consumer):
    children = consumer.outputs["children"]
    assert children["identity"] == "test1.com"
    assert children["mail_from"] == "mail.test1.com"
    assert len(children["records"]) >= 5  # DKIM x3, MAIL FROM MX and SPF, DMARC
    assert all("ses-mail:index:SendingDomain$aws:route53/record:Record::test1.com-" in urn
               for urn in children["records"])
    assert children["user"] == iam_user_name("taro@test1.com")
    assert list(children["keys"]) == ["1"] and children["secret"] is True
    assert children["configuration_set"] == "ses-mail-dev-mail"
    assert children["topic"] == "ses-mail-dev-mail-feedback"
    assert children["alarms"] == {"bounce-rate": 0.02, "complaint-rate": 0.0005}
    assert children["subscriptions"] == ["ops@test1.com"]


def test_a_transform_on_sesmail_reaches_every_iam_user_and_nothing_else(consumer):
    users = consumer.of_type("aws:iam/user:User")
    assert len(users) == 2
    for user in users:
        assert user.inputs["tags"]["cost-centre"] == "mail"
        # The component's own tags survive: the transform adds, it does not replace.
        assert user.inputs["tags"]["ses-mail:address"].endswith("@test1.com")
    others = [r for r in consumer.registrations if r.type != "aws:iam/user:User"]
    assert others and all("cost-centre" not in (r.inputs.get("tags") or {}) for r in others)


def test_without_the_transform_no_user_has_the_tag(run):
    users = run().of_type("aws:iam/user:User")
    assert len(users) == 2 and all("cost-centre" not in u.inputs["tags"] for u in users)


ARGS = {
    "ses_mail.components.ses_mail": "SesMailArgs",
    "ses_mail.components.sending_domain": "SendingDomainArgs",
    "ses_mail.components.smtp_sender": "SmtpSenderArgs",
    "ses_mail.components.deliverability": "DeliverabilityArgs",
}


@pytest.mark.parametrize("module,name", sorted(ARGS.items()))
def test_every_args_field_is_documented_once_with_its_default(module, name):
    """One convention for the four components: `(name, args, opts)`, Args a TypedDict whose every
    field has one docstring (read as the analyzer reads it), saying `Required` or its `Default:`;
    the class docstring names no field."""
    import importlib
    import inspect
    import typing

    from pulumi.provider.experimental.analyzer import Analyzer

    args_type = getattr(importlib.import_module(module), name)
    component = getattr(importlib.import_module(module), name.removesuffix("Args"))
    assert list(inspect.signature(component.__init__).parameters) == ["self", "name", "args", "opts"]
    annotation = inspect.get_annotations(component.__init__)["args"]
    assert annotation is args_type or annotation == name
    assert typing.is_typeddict(args_type)
    analyzer = Analyzer(name)
    for field in args_type.__annotations__:
        doc = analyzer.get_docstring(args_type, field)
        assert doc, f"{name}.{field} has no docstring"
        if field in args_type.__optional_keys__:
            assert doc.count("Default:") == 1, f"{name}.{field}: {doc}"
        else:
            assert "Required" in doc and "Default:" not in doc, f"{name}.{field}: {doc}"
        assert f"`{field}`" not in (args_type.__doc__ or ""), f"{name} documents {field} twice"
