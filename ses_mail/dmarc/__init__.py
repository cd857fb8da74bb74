"""DMARC aggregate reports: reading them (`reports`), judging them (`analysis`), fetching them from
S3 (`bucket`). `reports` and `analysis` import neither boto3 nor Pulumi (tests/test_dmarc.py)."""
