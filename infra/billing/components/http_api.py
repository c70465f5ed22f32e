"""The HTTP API: JWT authorizer, CORS for the frontend, throttled `$default` stage, access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from billing.contract import contract

#: API Gateway gives up on an integration after this long; function timeouts stay below it.
INTEGRATION_TIMEOUT_SECONDS = 30

_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }
)


@dataclass(frozen=True)
class HttpApiArgs:
    """Who may call the API and how hard."""

    api_name: str
    access_log_group_name: str
    frontend_origin: str
    """The only origin CORS allows."""
    jwt_issuer: str
    jwt_audience: Sequence[str]
    throttle_rate_limit: int
    throttle_burst_limit: int
    log_retention_days: int
    tags: Mapping[str, str]


class HttpApi(pulumi.ComponentResource):
    """API, JWT authorizer and stage; routes are attached by `LambdaRoutes`."""

    api_id: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    authorizer_id: pulumi.Output[str]
    stage_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:HttpApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.api_name,
            protocol_type="HTTP",
            cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=[args.frontend_origin],
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
                max_age=3600,
            ),
            tags=dict(args.tags),
            opts=child,
        )
        authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-jwt-authorizer",
            api_id=api.id,
            name="jwt",
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                issuer=args.jwt_issuer, audiences=list(args.jwt_audience)
            ),
            opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=args.access_log_group_name,
            retention_in_days=args.log_retention_days,
            tags=dict(args.tags),
            opts=child,
        )
        stage = aws.apigatewayv2.Stage(
            f"{name}-default-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.throttle_rate_limit,
                throttling_burst_limit=args.throttle_burst_limit,
                # Per-route metrics, for the webhook's alarms and the dashboard.
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=_ACCESS_LOG_FORMAT
            ),
            tags=dict(args.tags),
            opts=child,
        )
        self.api_id = api.id
        self.api_endpoint = api.api_endpoint
        self.execution_arn = api.execution_arn
        self.authorizer_id = authorizer.id
        self.stage_name = stage.name
        self.register_outputs({"apiEndpoint": self.api_endpoint})


#: One route key and whether it requires the JWT authorizer (`shared.contract.RouteKey`).
Route = contract.RouteKey


@dataclass(frozen=True)
class LambdaRoutesArgs:
    """The routes one function serves on the API."""

    api: HttpApi
    function_name: pulumi.Input[str]
    invoke_arn: pulumi.Input[str]
    """The function's, or its alias's when routes target an alias (SnapStart)."""
    routes: Sequence[Route]
    qualifier: pulumi.Input[str] | None = None
    """The alias the routes invoke, if any: API Gateway's permission must name it."""


class LambdaRoutes(pulumi.ComponentResource):
    """A proxy integration (payload 2.0) and its routes, each allowed to invoke the function."""

    def __init__(
        self, name: str, args: LambdaRoutesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:LambdaRoutes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=args.api.api_id,
            integration_type="AWS_PROXY",
            integration_uri=args.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_SECONDS * 1000,
            opts=child,
        )
        for route in args.routes:
            slug = f"{route.method}{route.path}".lower().replace("/", "-")
            aws.apigatewayv2.Route(
                f"{name}-{slug}",
                api_id=args.api.api_id,
                route_key=route.key,
                target=integration.id.apply(
                    lambda integration_id: f"integrations/{integration_id}"
                ),
                authorization_type="JWT" if route.requires_jwt else "NONE",
                authorizer_id=args.api.authorizer_id if route.requires_jwt else None,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{slug}-invoke",
                action="lambda:InvokeFunction",
                function=args.function_name,
                qualifier=args.qualifier,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    args.api.execution_arn, f"/*/{route.method}{route.path}"
                ),
                opts=child,
            )
        self.register_outputs({})
