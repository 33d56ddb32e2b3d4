"""The optional off-site copy: archives and their checksums in S3-compatible storage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from clinicbot.services.backups.archives import checksum_path, taken_at
from clinicbot.settings import Settings


class RemoteStorage:
    """A bucket and key prefix on AWS S3 or any S3-compatible service (MinIO, R2, Spaces…)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteStorage | None:
        """The configured storage, or None when ``BACKUP_S3_BUCKET`` is unset."""
        if not settings.backup_s3_bucket:
            return None
        return cls(
            settings.backup_s3_bucket,
            prefix=settings.backup_s3_prefix,
            endpoint_url=settings.backup_s3_endpoint_url,
            region=settings.backup_s3_region,
            access_key_id=settings.backup_s3_access_key_id,
            secret_access_key=settings.backup_s3_secret_access_key,
        )

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def upload(self, archive: Path) -> str:
        """Upload the archive, then its checksum; returns the archive's ``s3://`` URL."""
        self._client.upload_file(str(archive), self.bucket, self.prefix + archive.name)
        sidecar = checksum_path(archive)
        self._client.upload_file(str(sidecar), self.bucket, self.prefix + sidecar.name)
        return self.url(archive.name)

    def download(self, name: str, directory: Path) -> Path:
        """Fetch an archive and its checksum into ``directory``; returns the archive's path."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / name
        self._client.download_file(self.bucket, self.prefix + name, str(target))
        sidecar = checksum_path(target)
        self._client.download_file(self.bucket, self.prefix + sidecar.name, str(sidecar))
        return target

    def archives(self) -> dict[str, datetime]:
        """Our archives in the bucket under the prefix (name → when taken)."""
        found: dict[str, datetime] = {}
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix) :]
                moment = taken_at(name)
                if moment is not None:
                    found[name] = moment
        return found

    def delete(self, names: list[str]) -> None:
        """Delete archives and their checksums."""
        keys = [self.prefix + key for name in names for key in (name, name + ".sha256")]
        for start in range(0, len(keys), 1000):  # S3's limit per request
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})
