"""AWS errors that mean "could not check" (exit 2, `EXIT_USAGE`), told in one line each."""
from __future__ import annotations

from typing import Optional

import botocore.exceptions as bx


def explain(err: BaseException) -> Optional[str]:
    """One line for an error that stops the check, or None for anything else (a bug: re-raise)."""
    if isinstance(err, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.TokenRetrievalError)):
        return ("no AWS credentials: set them the standard way (AWS_PROFILE, AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, `aws sso login`, an instance role); the Pulumi CLI is not used")
    if isinstance(err, bx.ProfileNotFound):
        return f"{err}: check AWS_PROFILE"
    if isinstance(err, bx.NoRegionError):
        return "no region: give --region"
    if isinstance(err, bx.EndpointConnectionError):
        return f"cannot reach AWS: {err}"
    if isinstance(err, bx.ClientError):
        error = err.response.get("Error", {})
        op = getattr(err, "operation_name", "")
        hint = " (README: the IAM permissions each command needs)" if "AccessDenied" in error.get("Code", "") else ""
        return f"{op}: {error.get('Code')}: {error.get('Message')}{hint}"
    return None
