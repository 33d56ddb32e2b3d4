"""A local S3: moto's server mode on a free loopback port, spoken to over real HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

from clinicbot.services.backups.storage import RemoteStorage

ACCESS_KEY = "backup-test-key"
SECRET_KEY = "backup-test-secret"


@contextmanager
def s3_server() -> Iterator[str]:
    """The endpoint URL of a fresh fake S3, stopped afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def new_bucket(endpoint: str) -> str:
    name = f"clinic-backups-{secrets.token_hex(4)}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name)
    return name


def storage(endpoint: str, bucket: str) -> RemoteStorage:
    return RemoteStorage(
        bucket,
        prefix="clinica-1/",
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
