"""Backends behind media's ports: object storage over S3 (aioboto3)."""
