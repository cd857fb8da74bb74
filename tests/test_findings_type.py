"""One findings type (ses_mail/findings.py) for doctor, audit and adopt."""
from __future__ import annotations

import ast

from ses_mail.adoption.assess import Assessor
from ses_mail.findings import ERROR, Finding, failing
from tests.conftest import PROJECT_DIR


def test_only_one_module_defines_a_finding():
    defined = [path.relative_to(PROJECT_DIR).as_posix() for path in sorted((PROJECT_DIR / "ses_mail").rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef) and node.name == "Finding"]
    assert defined == ["ses_mail/findings.py"]


def test_what_adopt_cannot_do_safely_is_a_failing_error_about_the_domain():
    assessor = Assessor(account=None, roster=None, region="eu-west-1", other_regions=())
    assessor.find("example.com", "zone-missing", "no zone", "create it")
    [finding] = assessor.findings
    assert finding == Finding("zone-missing", ERROR, "example.com", "no zone", "create it")
    assert failing(assessor.findings) == [finding]
