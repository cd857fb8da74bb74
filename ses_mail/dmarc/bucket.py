"""Reading DMARC reports from an S3 bucket, read-only: ListObjectsV2 and GetObject only (the
client comes guarded by ses_mail.live.clients, which refuses anything but Get/List/Describe)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from ses_mail.dmarc.reports import MAX_INPUT_BYTES, ReadResult, read_bytes, unreadable


def read_bucket(s3: Any, bucket: str, *, prefix: str = "", since: Optional[datetime] = None) -> ReadResult:
    """Every report in the objects under `prefix` stored at or after `since`; an object over the
    size bound, or one that cannot be fetched, is a finding naming it."""
    result = ReadResult([], [])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, source = item["Key"], f"s3://{bucket}/{item['Key']}"
            if key.endswith("/") or (since is not None and item["LastModified"] < since):
                continue
            if item["Size"] > MAX_INPUT_BYTES:
                result.files += 1
                result.findings.append(unreadable(source, f"is {item['Size']} bytes, over the {MAX_INPUT_BYTES}-byte limit: not read"))
                continue
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                data = body.read(MAX_INPUT_BYTES + 1)  # the listing's size is not trusted either
            finally:
                body.close()
            result.extend(read_bytes(data, source))
    return result
