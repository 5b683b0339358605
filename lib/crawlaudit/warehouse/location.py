"""Where the warehouse lives and how each reader reaches it: Spark through Hadoop (S3A for ``s3://`` and
``s3a://``), delta-rs and boto3 through their own S3 clients, all from the one ``output`` section.

Supported: a local directory, ``file://``, ``s3://`` and ``s3a://`` (the same objects; ``config.OutputConfig``
rejects any other scheme at load). ``check`` runs before Spark starts: a missing bucket, refused credentials or an
unreachable endpoint is one ``ConfigError`` naming the setting, and nothing is left behind.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import re
import uuid
from pathlib import Path

from crawlaudit.config import OutputConfig, S3Config, redact_url
from crawlaudit.errors import ConfigError

S3_SCHEMES = ("s3", "s3a")
DEFAULT_REGION = "us-east-1"


def hadoop_version() -> str:
    """The Hadoop version pyspark ships (hadoop-aws must match it), from its hadoop-client-api jar."""
    import pyspark

    jars = glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar"))
    m = re.search(r"hadoop-client-api-([\d.]+)\.jar$", jars[0]) if jars else None
    if m is None:
        raise ConfigError("cannot tell pyspark's Hadoop version (no hadoop-client-api jar): add "
                          "org.apache.hadoop:hadoop-aws of that version to spark.jars.packages yourself")
    return m.group(1)


@dataclasses.dataclass(frozen=True)
class Location:
    """The warehouse root as configured (``uri``) and the S3 settings it is reached with."""

    uri: str
    s3: S3Config = dataclasses.field(default_factory=S3Config)

    @classmethod
    def from_config(cls, output: OutputConfig) -> "Location":
        return cls(output.warehouse.rstrip("/") or output.warehouse, output.s3)

    @property
    def scheme(self) -> str:
        return self.uri.partition("://")[0].lower() if "://" in self.uri else ""

    @property
    def is_s3(self) -> bool:
        return self.scheme in S3_SCHEMES

    @property
    def local_dir(self) -> Path | None:
        """The directory of a local warehouse; None on object storage."""
        return None if self.is_s3 else Path(self.uri.removeprefix("file://"))

    @property
    def bucket(self) -> str:
        return self.uri.partition("://")[2].split("/")[0]

    @property
    def key_prefix(self) -> str:
        return self.uri.partition("://")[2].partition("/")[2].strip("/")

    @property
    def display(self) -> str:
        return redact_url(self.uri)

    def spark_uri(self, *parts: str) -> str:
        """What Spark and Hadoop read and write: ``s3a://`` for both S3 schemes."""
        base = "s3a://" + self.uri.partition("://")[2] if self.is_s3 else self.uri
        return "/".join([base.rstrip("/"), *parts])

    def delta_rs_uri(self, *parts: str) -> str:
        """What delta-rs opens: ``s3://`` for both S3 schemes, a plain path for local warehouses."""
        base = "s3://" + self.uri.partition("://")[2] if self.is_s3 else str(self.local_dir)
        return "/".join([base.rstrip("/"), *parts])

    def _region(self) -> str:
        return self.s3.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION

    def storage_options(self) -> dict[str, str]:
        """delta-rs's storage options (object_store's AWS keys); credentials from the config, else its AWS chain."""
        if not self.is_s3:
            return {}
        opts = {"AWS_REGION": self._region()}
        if self.s3.endpoint:
            opts["AWS_ENDPOINT_URL"] = self.s3.endpoint.rstrip("/")
            opts["AWS_ALLOW_HTTP"] = str(self.s3.endpoint.startswith("http://")).lower()
        if self.s3.path_style:
            opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
        if self.s3.access_key_id:
            opts.update(AWS_ACCESS_KEY_ID=self.s3.access_key_id, AWS_SECRET_ACCESS_KEY=self.s3.secret_access_key)
        return opts

    def spark_conf(self) -> dict[str, str]:
        """Hadoop S3A settings for the session (Spark redacts keys named *secret* / *access.key* in its UI and
        logs); empty for local warehouses. Credentials: the config's, else S3A's default AWS chain."""
        if not self.is_s3:
            return {}
        h = "spark.hadoop.fs.s3a."
        conf = {h + "endpoint.region": self._region()}
        if self.s3.endpoint:
            conf[h + "endpoint"] = self.s3.endpoint.rstrip("/")
            conf[h + "connection.ssl.enabled"] = str(self.s3.endpoint.startswith("https://")).lower()
        if self.s3.path_style:
            conf[h + "path.style.access"] = "true"
        if self.s3.access_key_id:
            conf.update({h + "access.key": self.s3.access_key_id, h + "secret.key": self.s3.secret_access_key})
        return conf

    def spark_packages(self) -> list[str]:
        """Maven coordinates the session needs for this location (hadoop-aws matching pyspark's Hadoop)."""
        return [f"org.apache.hadoop:hadoop-aws:{hadoop_version()}"] if self.is_s3 else []

    def boto3_client(self):
        import boto3
        from botocore.config import Config as BotoConfig

        kwargs = {"region_name": self._region(),
                  "config": BotoConfig(s3={"addressing_style": "path" if self.s3.path_style else "auto"},
                                       retries={"max_attempts": 2}, connect_timeout=10, read_timeout=30)}
        if self.s3.endpoint:
            kwargs["endpoint_url"] = self.s3.endpoint
        if self.s3.access_key_id:
            kwargs.update(aws_access_key_id=self.s3.access_key_id, aws_secret_access_key=self.s3.secret_access_key)
        return boto3.client("s3", **kwargs)

    def check(self) -> None:
        """Fail now, with one line naming the setting, when the warehouse cannot be written: a local directory is
        created and probed; on S3 the bucket is looked up and a probe object written and deleted."""
        if self.is_s3:
            self._check_s3()
            return
        path = self.local_dir
        try:
            path.mkdir(parents=True, exist_ok=True)
            # A name of its own: two jobs starting at once on one warehouse must not remove each other's probe.
            probe = path / f".crawlaudit-write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink(missing_ok=True)
        except OSError as e:
            raise ConfigError(f"output.warehouse {self.uri!r} cannot be written: {e.strerror or e}") from None

    def _check_s3(self) -> None:
        from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError,
                                         PartialCredentialsError)

        where = f"output.warehouse {self.display}"
        creds = ("output.s3.access_key_id / secret_access_key" if self.s3.access_key_id else
                 "the AWS credential chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a role")
        probe = "/".join(p for p in (self.key_prefix, f".crawlaudit-write-probe-{uuid.uuid4().hex}") if p)
        try:
            client = self.boto3_client()
            client.head_bucket(Bucket=self.bucket)
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            client.delete_object(Bucket=self.bucket, Key=probe)
        except (NoCredentialsError, PartialCredentialsError):
            raise ConfigError(f"{where}: no AWS credentials found (set {creds})") from None
        except EndpointConnectionError:
            raise ConfigError(f"{where}: cannot connect to output.s3.endpoint "
                              f"{self.s3.endpoint or '(AWS default)'}") from None
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket"):
                raise ConfigError(f"{where}: bucket {self.bucket!r} does not exist"
                                  f"{' at ' + self.s3.endpoint if self.s3.endpoint else ''}") from None
            code = "HTTP 403" if code == "403" else code   # a HEAD request's answer has no error body
            if code in ("HTTP 403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
                        "InvalidToken"):
                raise ConfigError(f"{where}: the store refused the credentials ({code}) from {creds}") from None
            raise ConfigError(f"{where}: cannot be written ({code or type(e).__name__})") from None
        except BotoCoreError as e:
            raise ConfigError(f"{where}: cannot be reached ({type(e).__name__})") from None
