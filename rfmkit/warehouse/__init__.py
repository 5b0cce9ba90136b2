"""Warehouses: one interface (base.Warehouse), DuckDB (default) and Redshift backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.loading import LoadError, LoadReport, MaxErrorsExceeded

if TYPE_CHECKING:
    from rfmkit.config import RunConfig

__all__ = ["LoadError", "LoadReport", "MaxErrorsExceeded", "Warehouse", "connect"]


def connect(config: RunConfig) -> Warehouse:
    """The warehouse for a run: a DuckDB file in the run folder, or Redshift on backend='aws'."""
    if config.backend == "local":
        from rfmkit.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(config.warehouse_path)
    return connect_redshift(config)


def connect_redshift(config: RunConfig, client=None, s3_client=None) -> Warehouse:
    from rfmkit.config import ConfigError
    from rfmkit.storage import S3Storage
    from rfmkit.warehouse.redshift import ConnectorTransport, DataApiTransport, RedshiftWarehouse

    aws = config.aws
    if aws.host:
        if not aws.user:
            raise ConfigError("AWS setting user is required with host (redshift_connector)")
        transport = ConnectorTransport.connect(host=aws.host, port=aws.port, user=aws.user,
                                               database=aws.database)
    elif aws.workgroup or aws.cluster_id:
        transport = DataApiTransport(database=aws.database, workgroup=aws.workgroup,
                                     cluster_id=aws.cluster_id, secret_arn=aws.secret_arn,
                                     db_user=aws.db_user, region=aws.region, client=client)
    else:
        raise ConfigError("backend='aws' needs a Redshift target: set workgroup (Serverless), "
                          "cluster_id, or host (see notebook 00 and docs/AWS.md)")
    storage = S3Storage(aws.bucket, aws.prefix, client=s3_client, region=aws.region) \
        if aws.bucket else None
    return RedshiftWarehouse(transport, storage=storage, copy_role_arn=aws.copy_role_arn,
                             region=aws.region)
