"""The credential rotation function: its code is shipped to AWS Lambda as it is (handler.py alone,
stdlib and the runtime's boto3), so nothing here may import the rest of the package."""
