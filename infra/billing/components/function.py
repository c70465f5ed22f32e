"""One Lambda function with its own role, least-privilege policy and log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from billing.build.packaging import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, BuiltArchive
from billing.components.iam import assume_role_policy
from billing.config.names import FunctionNames
from billing.contract import contract


@dataclass(frozen=True)
class TableAccess:
    """DynamoDB actions the function may take on the given table or index ARNs."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class BillingFunctionArgs:
    """Code, permissions and settings of one function."""

    names: FunctionNames
    """The function's, its role's and its log group's physical names."""
    package: str
    """lambdas/<package>: Lambda calls `<package>.handler.handler`."""
    archive: BuiltArchive
    layer_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]
    """The only secret the function may read; it gets the ARN, never a value."""
    environment: Mapping[str, pulumi.Input[str]]
    """Non-secret settings; SECRET_ARN is added from `secret_arn`."""
    table_access: Sequence[TableAccess]
    log_retention_days: int
    timeout_seconds: int
    """Shorter than API Gateway's 30 s integration timeout, so the function's own error wins."""
    memory_mb: int = 512
    kms_key_arn: str | None = None
    """Customer-managed key of the secret and tables, if any: adds kms:Decrypt on it alone."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)
    snap_start: bool = False
    """Publish versions with SnapStart and serve them through the `live` alias."""
    consumes_queue_arn: pulumi.Input[str] | None = None
    """A queue the function drains through an event source (receive, delete, attributes)."""
    log_level: str = "INFO"
    """Lambda's application log level: lines below it never reach CloudWatch, whatever the
    function's own LOG_LEVEL lets through, so the two are set together."""
    tags: Mapping[str, str] = field(default_factory=dict)


#: The alias API Gateway invokes when SnapStart is on (SnapStart applies to published versions).
LIVE_ALIAS = "live"


class BillingFunction(pulumi.ComponentResource):
    """Role, inline policy naming concrete ARNs only, log group with retention, function.

    With SnapStart, every code or configuration change publishes a version (Lambda snapshots
    it once), and the `live` alias follows the newest one; routes invoke the alias, never
    `$LATEST`, which SnapStart does not apply to.
    """

    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    """What API Gateway integrates: the alias's invoke ARN with SnapStart, else the function's."""
    name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    alias_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: BillingFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:BillingFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        log_group, role, policy = self._logs_and_role(name, args, child)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.names.function,
            role=role.arn,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=f"{args.package}.handler.handler",
            code=pulumi.FileArchive(str(args.archive.directory)),
            source_code_hash=args.archive.sha256,
            layers=[args.layer_arn],
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={contract.Env.SECRET_ARN: args.secret_arn, **args.environment}
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                # Lambda's own START/END/REPORT lines as JSON, like ours (shared/log.py).
                log_format="JSON",
                application_log_level=args.log_level,
                log_group=log_group.name,
            ),
            publish=args.snap_start,
            snap_start=(
                aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions")
                if args.snap_start
                else None
            ),
            tags=dict(args.tags),
            # The policy is a separate resource the role does not wait for: without this dependency
            # the function could take its first invocations before it may read its secret.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, policy, *args.depends_on]
            ),
        )
        self.arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.name = function.name
        self.log_group_name = log_group.name
        self.alias_name = None
        if args.snap_start:
            alias = self._live_alias(name, function)
            self.invoke_arn = alias.invoke_arn
            # The alias resource's own name: a permission that names it follows the alias.
            self.alias_name = alias.name
        self.register_outputs({"arn": self.arn, "name": self.name})

    def _logs_and_role(
        self, name: str, args: BillingFunctionArgs, child: pulumi.ResourceOptions
    ) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role, aws.iam.RolePolicy]:
        """The log group, and the role with its policy naming that log group and nothing wider."""
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.names.log_group,
            retention_in_days=args.log_retention_days,
            tags=dict(args.tags),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.names.role,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": self._statements(args, log_group.arn)}
            ),
            opts=child,
        )
        return log_group, role, policy

    def _live_alias(self, name: str, function: aws.lambda_.Function) -> aws.lambda_.Alias:
        return aws.lambda_.Alias(
            f"{name}-live",
            name=LIVE_ALIAS,
            function_name=function.name,
            function_version=function.version,
            description="The newest published version, restored from its SnapStart snapshot",
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _statements(
        args: BillingFunctionArgs, log_group_arn: pulumi.Output[str]
    ) -> list[dict[str, object]]:
        statements: list[dict[str, object]] = [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group_arn.apply(lambda arn: f"{arn.removesuffix(':*')}:*")],
            },
            {
                "Sid": "ReadOwnSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [args.secret_arn],
            },
        ]
        for index, access in enumerate(args.table_access):
            statements.append(
                {
                    "Sid": f"Tables{index}",
                    "Effect": "Allow",
                    "Action": [f"dynamodb:{action}" for action in access.actions],
                    "Resource": list(access.resources),
                }
            )
        if args.consumes_queue_arn is not None:
            statements.append(
                {
                    "Sid": "ConsumeQueue",
                    "Effect": "Allow",
                    "Action": [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                    ],
                    "Resource": [args.consumes_queue_arn],
                }
            )
        if args.kms_key_arn:
            statements.append(
                {
                    "Sid": "DecryptWithCustomerKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": [args.kms_key_arn],
                }
            )
        return statements
