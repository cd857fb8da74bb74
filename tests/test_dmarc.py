"""`ses-mail dmarc`: reports made by tests/support/dmarc_reports.py, read from a directory or from
S3 (moto), judged against numbers each test computes from the rows it generated."""
from __future__ import annotations

import ast
import gzip
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ses_mail.cli.dmarc import main
from ses_mail.dmarc import analysis
from ses_mail.dmarc.reports import MAX_INPUT_BYTES
from tests.support import dmarc_reports as gen

PROJECT_DIR = Path(__file__).resolve().parent.parent
END = 1_767_225_600  # 2026-01-01T00:00:00Z, a midnight
NOW = datetime.fromtimestamp(END + 3600, timezone.utc)
T = analysis.Thresholds()


def run_json(capsys, *args: str, now: datetime = NOW, clients=None) -> tuple[int, dict]:
    code = main([*args, "--format", "json"], now=now, clients=clients)
    return code, json.loads(capsys.readouterr().out)


def expected(scenario: gen.Scenario) -> dict:
    """The scenario's numbers from its own rows: what any correct reader must report."""
    rows = [r for _, r in scenario.rows]
    total = sum(r.count for r in rows)
    passing = sum(r.count for r in rows if r.passes)
    unauth = sum(r.count for r in rows if not r.passes and not r.authenticated)
    per_ip: dict[str, int] = {}
    for r in rows:
        if not r.passes and r.authenticated:
            per_ip[r.ip] = per_ip.get(r.ip, 0) + r.count
    legit = total - unauth
    return {"messages": total, "dmarc_pass_share": round(passing / total, 6),
            "dkim_aligned_share": round(sum(r.count for r in rows if r.dkim_aligned) / total, 6),
            "spf_aligned_share": round(sum(r.count for r in rows if r.spf_aligned) / total, 6),
            "unauthenticated_messages": unauth, "legitimate_share": passing / legit,
            "worst_authenticated_share": max(per_ip.values(), default=0) / legit,
            "failing_ips": sorted({r.ip for r in rows if not r.passes},
                                  key=lambda ip: -sum(r.count for r in rows if r.ip == ip and not r.passes)),
            "reports": scenario.reports, "days": scenario.days}


SCENARIOS = {"clean": gen.clean_month, "forgotten": gen.forgotten_sender, "spoofing": gen.spoofing,
             "too_little": gen.too_little}


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_reports_the_rows_numbers_and_recommends_from_them(tmp_path, capsys, name):
    scenario = SCENARIOS[name](END)
    gen.write(scenario.files, tmp_path)
    code, doc = run_json(capsys, "--dir", str(tmp_path))
    (domain,) = doc["domains"]
    want = expected(scenario)
    for key in ("messages", "dmarc_pass_share", "dkim_aligned_share", "spf_aligned_share",
                "unauthenticated_messages", "reports", "days"):
        assert domain[key] == want[key], key
    assert [s["ip"] for s in domain["failing_sources"]] == want["failing_ips"]
    assert domain["legitimate_pass_share"] == pytest.approx(want["legitimate_share"], abs=1e-6)
    assert doc["findings"] == []

    # The rule, applied by the test to its own numbers.
    enough = want["days"] >= T.min_days and want["messages"] >= T.min_messages
    healthy = (want["legitimate_share"] >= T.min_aligned_share
               and want["worst_authenticated_share"] <= T.max_failing_source_share)
    if name == "clean":  # p=none, a month, every own message aligned: one step up
        assert enough and healthy
        assert (domain["recommendation"], code) == ("quarantine", 0)
    elif name == "forgotten":  # p=reject while a CRM's ~5% fails: too strict, exit 1
        assert not healthy and want["worst_authenticated_share"] > 0.04
        assert (domain["current_policy"], domain["recommendation"], code) == ("reject", "none", 1)
        assert domain["stricter_than_evidence"] and "198.51.100.25" in domain["reason"]
    elif name == "spoofing":  # forgery is a reason to tighten, never a reason to wait
        assert enough and healthy and want["unauthenticated_messages"] > 0.2 * want["messages"]
        assert (domain["current_policy"], domain["recommendation"], code) == ("quarantine", "reject", 0)
        assert {s["kind"] for s in domain["failing_sources"]} == {"unauthenticated"}
    else:
        assert not enough
        assert (domain["recommendation"], code) == ("stay", 0) and "too little data" in domain["reason"]


def test_every_receiver_style_and_container_is_read(tmp_path, capsys):
    scenario = gen.clean_month(END)
    names = list(scenario.files)
    assert any(n.endswith(".zip") for n in names) and any(n.endswith(".xml.gz") for n in names)
    assert any(n.endswith(".eml") for n in names)
    gen.write(scenario.files, tmp_path)
    (tmp_path / "plain.xml").write_bytes(gen.report_xml(
        "google", domain="clean.example", begin=END - 86400, end=END, report_id="plain-1",
        rows=[gen.aligned("54.240.8.12", 5, "clean.example")]))
    _, doc = run_json(capsys, "--dir", str(tmp_path))
    (domain,) = doc["domains"]
    assert domain["reporting_orgs"] == ["Enterprise Outlook", "Yahoo", "google.com"]
    assert domain["schemas"] == ["rfc7489", "rfc9990"]
    assert domain["reports"] == scenario.reports + 1


def test_duplicate_reports_are_counted_once(tmp_path, capsys):
    scenario = gen.too_little(END)
    gen.write(scenario.files, tmp_path / "a")
    gen.write(scenario.files, tmp_path / "b")  # the same reports again, delivered twice
    code, doc = run_json(capsys, "--dir", str(tmp_path))
    assert doc["duplicates"] == scenario.reports
    assert doc["domains"][0]["messages"] == expected(scenario)["messages"]


def hostile_files(tmp_path: Path) -> dict[str, str]:
    """file name -> words its finding must contain."""
    files = {
        "laughs.xml": (gen.BILLION_LAUGHS, "DTD"),
        "xxe.xml": (gen.EXTERNAL_ENTITY, "DTD"),
        "bomb.xml.gz": (gen.gzip_bomb(70 * 1024 * 1024), "gzip bomb"),
        "bomb.zip": (gen.zip_bomb(70 * 1024 * 1024), "zip bomb"),
        "truncated.xml.gz": (gzip.compress(gen.report_xml("yahoo", domain="x.example", begin=END - 86400, end=END,
                                                          report_id="t", rows=[]))[:-12], "truncated"),
        "broken.xml": (b"<feedback><report_metadata>", "not well-formed"),
        "other.xml": (b"<html><body>hi</body></html>", "not <feedback>"),
        "badip.xml": (gen.report_xml("google", domain="x.example", begin=END - 86400, end=END, report_id="ip",
                                     rows=[gen.aligned("999.1.1.1", 1, "x.example")]), "not an IP address"),
        "noattachment.eml": (b"From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nhello\r\n", "without a report"),
        "garbage.gz": (b"\x1f\x8b" + os.urandom(64), "gzip"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    with open(tmp_path / "huge.xml", "wb") as handle:  # sparse: costs nothing to make
        handle.truncate(MAX_INPUT_BYTES + 1)
    words = {name: word for name, (_, word) in files.items()}
    words["huge.xml"] = "limit"
    return words


def test_hostile_reports_are_findings_naming_the_file_and_the_rest_is_read(tmp_path, capsys):
    words = hostile_files(tmp_path)
    scenario = gen.clean_month(END)
    gen.write(scenario.files, tmp_path)
    code, doc = run_json(capsys, "--dir", str(tmp_path))
    found = {Path(f["source"].split(":")[0]).name: f["message"] for f in doc["findings"]}
    assert set(found) == set(words)
    for name, word in words.items():
        assert word in found[name], (name, found[name])
    assert doc["domains"][0]["messages"] == expected(scenario)["messages"]
    assert code == 0


def test_since_keeps_only_recent_reports(tmp_path, capsys):
    gen.write(gen.clean_month(END).files, tmp_path)
    _, doc = run_json(capsys, "--dir", str(tmp_path), "--since", "7")
    # NOW is an hour past midnight: the day that ended 7 days and an hour ago is out.
    assert doc["domains"][0]["days"] == 7
    assert doc["outside_window"] > 0
    assert doc["domains"][0]["recommendation"] == "stay"  # a week is too little


def test_the_roster_policy_wins_over_the_reports(tmp_path, write_roster, capsys):
    gen.write(gen.forgotten_sender(END).files, tmp_path / "r")
    for policy, testing, want in (("none", False, 0), ("reject", False, 1), ("quarantine", True, 0)):
        roster = write_roster(f"""
            domains:
              - name: crm.example
                dmarc: {{policy: {policy}, testing: {str(testing).lower()}}}
            """)
        code, doc = run_json(capsys, "--dir", str(tmp_path / "r"), "--roster", str(roster))
        assert code == want, policy
        assert doc["domains"][0]["current_policy_from"] == "roster"
        assert doc["domains"][0]["current_policy"] == analysis.applied(policy, testing)


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main([]) == 2
    assert main(["--dir", str(tmp_path / "missing")]) == 2
    assert main(["--dir", str(tmp_path), "--since", "-1"]) == 2
    assert main(["--dir", str(tmp_path), "--min-aligned-share", "2"]) == 2


def test_missing_credentials_exit_2(monkeypatch, tmp_path, capsys):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--bucket", "reports", "--region", "eu-west-1"]) == 2
    assert "no AWS credentials" in capsys.readouterr().err


@pytest.fixture
def s3_factory(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    from ses_mail.live.clients import guard

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    with moto.mock_aws():
        writer = boto3.client("s3", region_name="eu-west-1")
        yield writer, (lambda service: guard(boto3.client(service, region_name="eu-west-1")))


def test_bucket_reports_are_read_read_only_under_moto(capsys, s3_factory):
    writer, factory = s3_factory
    writer.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    scenario = gen.forgotten_sender(END)
    for i, (name, data) in enumerate(scenario.files.items()):
        # SES stores each message whole, under the rule's prefix and the message id.
        rid = name.split("!")[2]
        eml = gen.as_eml("google", scenario.domain, f"{rid}-{i}", name, data, "dmarc@reports.example.com", END)
        writer.put_object(Bucket="reports", Key=f"dmarc/{i:04d}abcdef", Body=eml)
    writer.put_object(Bucket="reports", Key="dmarc/zz-laughs", Body=gen.BILLION_LAUGHS)
    code, doc = run_json(capsys, "--bucket", "reports", "--prefix", "dmarc/", "--since", "0", clients=factory)
    assert code == 1
    assert doc["domains"][0]["messages"] == expected(scenario)["messages"]
    assert [f["source"] for f in doc["findings"]] == ["s3://reports/dmarc/zz-laughs"]
    with pytest.raises(Exception, match="not a read operation"):
        factory("s3").put_object(Bucket="reports", Key="x", Body=b"x")


def test_a_stacks_bucket_is_read_under_the_report_rules_prefix_only(tmp_path, capsys, s3_factory):
    """The stack's bucket also holds `ses-mail prove --receiver`'s test messages (under prove/):
    with --stack only the report rule's dmarc/ is read, so they are never unreadable reports."""
    writer, factory = s3_factory
    writer.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    scenario = gen.forgotten_sender(END)
    for i, (name, data) in enumerate(scenario.files.items()):
        eml = gen.as_eml("google", scenario.domain, f"{name.split('!')[2]}-{i}", name, data,
                         "dmarc@reports.crm.example", END)
        writer.put_object(Bucket="reports", Key=f"dmarc/{i:04d}abcdef", Body=eml)
    writer.put_object(Bucket="reports", Key="prove/0000prove", Body=b"From: taro@crm.example\r\n"
                      b"To: ses-mail-prove@reports.crm.example\r\nSubject: ses-mail prove\r\n\r\nhello\r\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n", encoding="utf-8")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n")
    (project / "roster.yaml").write_text("domains:\n  - name: crm.example\npeople:\n  - email: ann@crm.example\n"
                                         "reports:\n  address: dmarc@reports.crm.example\n  bucket: reports\n")
    stack = ("--stack", "dev", "--project-dir", str(project), "--since", "0")
    code, doc = run_json(capsys, *stack, clients=factory)
    assert doc["findings"] == [] and doc["domains"][0]["messages"] == expected(scenario)["messages"]
    _, everything = run_json(capsys, *stack, "--prefix", "", clients=factory)
    assert [f["source"] for f in everything["findings"]] == ["s3://reports/prove/0000prove"]


def test_the_command_runs_end_to_end(tmp_path):
    for make in SCENARIOS.values():
        gen.write(make(END).files, tmp_path / "reports")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    done = subprocess.run([sys.executable, "-m", "ses_mail", "dmarc", "--dir", str(tmp_path / "reports"),
                           "--since", "0", "--format", "json"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr  # crm.example publishes reject while its CRM fails
    doc = json.loads(done.stdout)
    assert {d["domain"]: d["recommendation"] for d in doc["domains"]} == {
        "clean.example": "quarantine", "crm.example": "none", "new.example": "stay", "spoofed.example": "reject"}
    text = subprocess.run([sys.executable, "-m", "ses_mail", "dmarc", "--dir", str(tmp_path / "reports"), "--since", "0"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert "RECOMMENDATION" not in text.stdout and "recommendation: REJECT" in text.stdout


def test_the_parser_and_analysis_import_neither_aws_nor_pulumi():
    for module in ("reports.py", "analysis.py"):
        tree = ast.parse((PROJECT_DIR / "ses_mail" / "dmarc" / module).read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {n for n in names if n.split(".")[0] in ("boto3", "botocore", "pulumi", "pulumi_aws")}, module
