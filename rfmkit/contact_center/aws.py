"""The AWS backend's contact center: DynamoDB, SageMaker Feature Store, and the contact-center
CloudFormation stack (cloudformation/rfmkit-contact-center.yaml) with the handlers as Lambda
functions behind Amazon Connect, EventBridge rules and an IAM-authorised HTTP API."""

from __future__ import annotations

import time

from rfmkit.config import ConfigError, RunConfig
from rfmkit.contact_center.dynamodb import DynamoContactStore
from rfmkit.contact_center.online import FeatureStoreOnline

TEMPLATE = "rfmkit-contact-center.yaml"


def stack_name(cfg: RunConfig) -> str:
    return f"{cfg.aws.stack_name or cfg.aws.prefix or 'rfmkit'}-contact-center"


def feature_group_name(cfg: RunConfig) -> str:
    return cfg.aws.feature_group or f"{cfg.aws.prefix or 'rfmkit'}-contact-center-features"


class AwsContactCenter:
    """What `AwsBackend.contact_center()` hands out (protocols.ContactCenter)."""

    def __init__(self, cfg: RunConfig, session):
        self.cfg, self.session = cfg, session
        prefix = cfg.aws.prefix or "rfmkit"
        self.store = DynamoContactStore(
            session.client("dynamodb"), cfg.aws.contact_profiles_table or f"{prefix}-cc-profiles",
            cfg.aws.contacts_table or f"{prefix}-cc-contacts",
            cfg.aws.contact_prompts_table or f"{prefix}-cc-prompts")
        self.features = FeatureStoreOnline(session.client("sagemaker-featurestore-runtime"),
                                           feature_group_name(cfg))

    def describe(self) -> dict[str, str]:
        return {"profiles, contacts, prompts": self.store.description,
                "online features": self.features.description,
                "stack": stack_name(self.cfg)}

    def prepare_feature_store(self, columns: list[str], progress=print, poll_seconds: float = 10.0) -> str:
        """Create the feature group (online store on, offline store in the workshop bucket) unless
        it exists, and wait until it is Created."""
        from botocore.exceptions import ClientError

        from rfmkit.contact_center.features import feature_definitions
        from rfmkit.contact_center.online import EVENT_TIME, RECORD_ID

        client, name, aws = self.session.client("sagemaker"), feature_group_name(self.cfg), self.cfg.aws
        try:
            status = client.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ResourceNotFound", "ValidationException"):
                raise
            if not (aws.bucket and aws.sagemaker_role_arn):
                raise ConfigError("the feature group needs the bucket and sagemaker_role_arn settings "
                                  "(notebook 00 reads them from the workshop stack)") from None
            client.create_feature_group(
                FeatureGroupName=name, RecordIdentifierFeatureName=RECORD_ID,
                EventTimeFeatureName=EVENT_TIME, FeatureDefinitions=feature_definitions(columns),
                OnlineStoreConfig={"EnableOnlineStore": True},
                OfflineStoreConfig={"S3StorageConfig": {
                    "S3Uri": f"s3://{aws.bucket}/{aws.prefix}/feature-store"},
                    "DisableGlueTableCreation": True},
                RoleArn=aws.sagemaker_role_arn,
                Description="rfmkit contact-center churn features (notebook 09)")
            status = "Creating"
            progress(f"creating feature group {name}…")
        while status == "Creating":
            time.sleep(poll_seconds)
            described = client.describe_feature_group(FeatureGroupName=name)
            status = described["FeatureGroupStatus"]
            if status == "CreateFailed":
                raise RuntimeError(f"feature group {name}: {described.get('FailureReason', 'failed')}")
        return f"feature group {name}: {status}"

    def deploy(self, endpoint: str, runtime=None, progress=print, poll_seconds: float = 10.0
               ) -> dict[str, str]:
        """Upload the functions' package, create or update the contact-center stack, save its
        outputs as this run's settings; the functions score through `endpoint`."""
        from rfmkit import cloudformation
        from rfmkit.config import AwsSettings
        from rfmkit.contact_center import lambda_package
        from rfmkit.paths import PROJECT_ROOT

        aws = self.cfg.aws
        if not aws.bucket:
            raise ConfigError("backend='aws' needs the bucket setting for the functions' package")
        if not aws.connect_instance_arn:
            raise ConfigError("parameter connect_instance_arn: the Amazon Connect instance "
                              "(arn:aws:connect:<region>:<account>:instance/<id>) whose flows and "
                              "Contact Lens rules call the kit")
        payload, key = lambda_package.build()
        key = f"{aws.prefix}/{key}" if aws.prefix else key
        self.session.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=payload)
        progress(f"functions' package: s3://{aws.bucket}/{key} ({len(payload):,} bytes)")
        template = (PROJECT_ROOT / "cloudformation" / TEMPLATE).read_text()
        outputs = cloudformation.deploy(stack_name(self.cfg), template, {
            "Prefix": aws.prefix or "rfmkit", "CodeBucket": aws.bucket, "CodeObject": key,
            "EndpointName": endpoint, "FeatureGroupName": feature_group_name(self.cfg),
            "ConnectInstanceArn": aws.connect_instance_arn},
            client=self.session.client("cloudformation"), poll_seconds=poll_seconds, progress=progress)
        values = {k: v for k, v in vars(aws).items() if v is not None}
        values.update({k: v for k, v in cloudformation.settings_from_outputs(outputs, "").items()
                       if k != "stack_name"})
        self.cfg.aws = AwsSettings.from_dict(values)
        self.cfg.save_aws_settings()
        self.__init__(self.cfg, self.session)  # the stores now use the stack's table names
        return {"api": outputs.get("ContactCenterApiUrl", ""), "stack": stack_name(self.cfg),
                "functions": outputs.get("ContactCenterFunctions", "")}

    def functions(self) -> dict[str, str]:
        listed = self.cfg.aws.contact_center_functions or ""
        pairs = dict(item.split("=", 1) for item in listed.split(",") if "=" in item)
        if not pairs:
            raise ConfigError("no contact-center functions in the settings: deploy() first")
        return pairs

    def api_client(self):
        from rfmkit.contact_center.simulator import LambdaApi

        return LambdaApi(self.session.client("lambda"), self.functions())

    def close(self) -> None:
        """Nothing runs here: the functions run in AWS until cleanup deletes the stack."""


def delete(cfg: RunConfig, session, done, progress=print, poll_seconds: float = 10.0) -> None:
    """Notebook 99: the contact-center stack and the feature group (both are idempotent)."""
    from botocore.exceptions import ClientError

    from rfmkit import cloudformation

    name = stack_name(cfg)
    deleted = cloudformation.delete(name, client=session.client("cloudformation"),
                                    poll_seconds=poll_seconds, progress=progress)
    done.add(f"stack {name}", "deleted" if deleted else "already gone", progress)
    group = feature_group_name(cfg)
    try:
        session.client("sagemaker").delete_feature_group(FeatureGroupName=group)
        done.add(f"feature group {group}", "deleted", progress)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("ResourceNotFound", "ValidationException"):
            raise
        done.add(f"feature group {group}", "already gone", progress)
