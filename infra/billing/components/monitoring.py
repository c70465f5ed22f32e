"""Someone hears when billing breaks: alarms to one SNS topic, and a dashboard per stack.

Thresholds, chosen so a quiet stack never alarms (missing data is "not breaching") and a single
blip does not page, while a lasting failure does well inside Stripe's three days of retries:

| alarm | metric | fires when |
|---|---|---|
| `<function>-errors` | Lambda Errors (Sum, 5 min) | ≥ 1 in 2 of the last 3 windows |
| `<function>-throttles` | Lambda Throttles (Sum, 5 min) | ≥ 1 in a window |
| `reconcile-errors` | the reconciliation's Errors (Sum, per run interval) | any failed run |
| `usage-dlq-messages` | visible messages in the usage dead-letter queue (Sum, 5 min) | ≥ 1 |
| `usage-oldest-message-age` | ApproximateAgeOfOldestMessage (Maximum, 5 min) | ≥ 30 min (note 4) |
| `webhook-5xx` | the webhook's 5xx answers (Sum, 5 min; note 2) | ≥ 1 in 2 of 3 windows |
| `webhook-4xx-surge` | the webhook's 4xx answers (Sum, 15 min; note 2) | ≥ 10 (note 1) |
| `api-5xx` | the whole API's 5xx (Sum, 5 min) | ≥ 5 in 2 of 3 windows |
| `duplicate-subscription` | lines with `outcome: duplicate_subscription` (note 3) | ≥ 1 |

(3) A customer pays for two entitled subscriptions (two Checkout tabs paid in the same moment):
counted from the webhook's, the reconciliation's and the subscription API's (sync) own lines.
The ERROR line names the customer and both subscriptions; an operator refunds one. Nothing
cancels or refunds money on its own.

(1) Genuine deliveries refused, as after a signing-secret mismatch; a stray forgery is not that.
(2) Counted by metric filters on the webhook function's own access lines (`route`, `status`:
`shared/log.py`'s `log_response`), whose fields the tests check against the lines a whole story
logs. Not API Gateway's per-route metrics: AWS's guides disagree on their dimensions (`Route`,
or `Method` and `Resource`) and on whether `Route` holds the route key or its id, and an alarm
on a dimension set that is never published stays silent. The dashboard still charts those
per-route metrics (detailed metrics are on), where a wrong guess only leaves a chart empty.
The whole API's 5xx uses the stage's `ApiId`/`Stage` metric, which every guide agrees on.

(4) Usage not reaching Stripe: the function is not draining the queue (its event source
disabled, throttled, or outpaced by producers). A message that merely fails lives at most 5
receives times the 180 s visibility timeout (15 min) before the dead-letter queue takes it (that
alarm's job), so 30 minutes never fires on one failing message. Usage keeps its timestamp (when
SQS received it), so a late message still bills the period it happened in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from billing.contract import contract

FIVE_MINUTES = 300
#: The usage queue's oldest message is this old: usage is not reaching Stripe (note 4).
USAGE_OLDEST_MESSAGE_ALARM_SECONDS = 30 * 60


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm's metric and rule."""

    name: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    period: int = FIVE_MINUTES
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    description: str = ""
    statistic: str = "Sum"


@dataclass(frozen=True)
class MonitoringArgs:
    """What to watch and who to tell."""

    prefix: str
    """`{environment}-{project}`: alarm, topic and dashboard names."""
    api_id: pulumi.Input[str]
    api_functions: Sequence[str]
    """Physical names of the functions behind the API."""
    webhook_function: str
    webhook_log_group: pulumi.Input[str]
    """The webhook function's log group: its access lines feed the webhook's alarms."""
    outcome_log_groups: Mapping[str, pulumi.Input[str]]
    """Short name → log group of every function that decides a customer's subscription (the
    webhook, the reconciliation, the subscription API's sync): their outcome lines are counted."""
    reconcile_function: str
    reconcile_interval_minutes: int
    region: pulumi.Input[str]
    """The provider's region (aws:region, else the profile's or AWS_REGION): the widgets name it."""
    alarm_email: str | None
    tags: Mapping[str, str]
    usage_function: str | None = None
    """The usage function: errors and throttles alarm like an API function's."""
    usage_dead_letter_queue: str | None = None
    """A usage message that failed 5 times waits here: usage not yet billed."""
    usage_queue: str | None = None
    """The usage queue: its oldest message's age alarms (usage not reaching Stripe)."""


WEBHOOK_ROUTE = contract.WEBHOOK_ROUTES[0].key


@dataclass(frozen=True)
class LogMetric:
    """A metric counted from log lines by a CloudWatch Logs metric filter."""

    metric: str
    pattern: str


def webhook_log_metrics() -> list[LogMetric]:
    """The webhook's 4xx and 5xx answers, from its access lines (JSON filter patterns)."""
    route = f'$.route = "{WEBHOOK_ROUTE}"'
    return [
        LogMetric("5xx", f"{{ {route} && $.status >= 500 }}"),
        LogMetric("4xx", f"{{ {route} && $.status >= 400 && $.status < 500 }}"),
    ]


def duplicate_subscription_metric() -> LogMetric:
    """A second entitled subscription for one customer (`shared.customer_state`)."""
    return LogMetric(
        "DuplicateSubscriptions", f'{{ $.outcome = "{contract.DUPLICATE_SUBSCRIPTION_OUTCOME}" }}'
    )


def billing_metrics_namespace(prefix: str) -> str:
    """The stack's namespace for what its functions' outcome lines count."""
    return f"{prefix}/billing"


def webhook_metrics_namespace(prefix: str) -> str:
    """The stack's own namespace for the metrics its log filters count."""
    return f"{prefix}/webhook"


def alarm_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Every alarm of the stack, as data (tests and the policy pack read the same list)."""
    specs: list[AlarmSpec] = []
    usage = [args.usage_function] if args.usage_function else []
    for function in [*args.api_functions, *usage]:
        dimensions = {"FunctionName": function}
        specs += [
            AlarmSpec(f"{function}-errors", "AWS/Lambda", "Errors", dimensions, 1, FIVE_MINUTES,
                      3, 2, f"{function} failed in 2 of the last 3 five-minute windows"),
            AlarmSpec(f"{function}-throttles", "AWS/Lambda", "Throttles", dimensions, 1,
                      description=f"{function} was throttled: raise its concurrency"),
        ]  # fmt: skip
    reconcile = {"FunctionName": args.reconcile_function}
    specs += [
        AlarmSpec(f"{args.reconcile_function}-errors", "AWS/Lambda", "Errors", reconcile, 1,
                  max(args.reconcile_interval_minutes * 60, FIVE_MINUTES),
                  description="a reconciliation run failed: missed webhooks are not replayed"),
        AlarmSpec(f"{args.reconcile_function}-throttles", "AWS/Lambda", "Throttles", reconcile, 1,
                  description="the reconciliation was throttled"),
    ]  # fmt: skip
    api = {"ApiId": args.api_id, "Stage": "$default"}
    webhook = webhook_metrics_namespace(args.prefix)
    specs += [
        AlarmSpec(f"{args.prefix}-webhook-5xx", webhook, "5xx", {}, 1, FIVE_MINUTES, 3, 2,
                  "Stripe's deliveries fail: Stripe retries for 3 days, then drops them"),
        AlarmSpec(f"{args.prefix}-webhook-4xx-surge", webhook, "4xx", {}, 10, 3 * FIVE_MINUTES,
                  description="many webhook deliveries refused: check stripe_webhook_secret"),
        AlarmSpec(f"{args.prefix}-api-5xx", "AWS/ApiGateway", "5xx", api, 5, FIVE_MINUTES, 3, 2,
                  "the API fails its callers"),
        AlarmSpec(f"{args.prefix}-duplicate-subscription", billing_metrics_namespace(args.prefix),
                  duplicate_subscription_metric().metric, {}, 1,
                  description="a customer pays for two subscriptions: refund one (the ERROR line "
                  "with outcome duplicate_subscription names both)"),
    ]  # fmt: skip
    return specs + _usage_queue_specs(args)


def _usage_queue_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Usage not billed: failed into the dead-letter queue, or waiting too long in the queue."""
    specs: list[AlarmSpec] = []
    if args.usage_dead_letter_queue:
        dead_letters = {"QueueName": args.usage_dead_letter_queue}
        specs.append(
            AlarmSpec(f"{args.usage_dead_letter_queue}-messages", "AWS/SQS",
                      "ApproximateNumberOfMessagesVisible", dead_letters, 1,
                      description="usage messages failed 5 times: not billed until redriven")
        )  # fmt: skip
    if args.usage_queue:
        queue = {"QueueName": args.usage_queue}
        specs.append(
            AlarmSpec(f"{args.usage_queue}-oldest-message-age", "AWS/SQS",
                      "ApproximateAgeOfOldestMessage", queue, USAGE_OLDEST_MESSAGE_ALARM_SECONDS,
                      description="usage waits over 30 minutes in the queue: not reaching Stripe "
                      "(the usage function's event source disabled, throttled or outpaced)",
                      statistic="Maximum")
        )  # fmt: skip
    return specs


class Monitoring(pulumi.ComponentResource):
    """The alarm topic (with an optional e-mail subscription), the alarms and the dashboard."""

    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-alarms", name=f"{args.prefix}-alarms", tags=dict(args.tags), opts=child
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarm-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )
        self._log_metric_filters(name, args, child)
        for spec in alarm_specs(args):
            self._alarm(name, args, spec, topic.arn, child)
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.prefix}-billing",
            dashboard_body=pulumi.Output.json_dumps(_dashboard(args)),
            opts=child,
        )
        self.topic_arn = topic.arn
        self.register_outputs({"topicArn": self.topic_arn})

    @staticmethod
    def _log_metric_filters(name: str, args: MonitoringArgs, child: pulumi.ResourceOptions) -> None:
        """The webhook's answers, and duplicate subscriptions wherever one can be decided."""
        webhook = webhook_metrics_namespace(args.prefix)
        for log_metric in webhook_log_metrics():
            _count_lines(f"{name}-webhook-{log_metric.metric}",
                         f"{args.prefix}-webhook-{log_metric.metric}",
                         args.webhook_log_group, log_metric, webhook, child)  # fmt: skip
        duplicates = duplicate_subscription_metric()
        for function, log_group in args.outcome_log_groups.items():
            _count_lines(f"{name}-{function}-duplicate-subscriptions",
                         f"{args.prefix}-{function}-duplicate-subscriptions",
                         log_group, duplicates, billing_metrics_namespace(args.prefix),
                         child)  # fmt: skip

    @staticmethod
    def _alarm(
        name: str,
        args: MonitoringArgs,
        spec: AlarmSpec,
        topic_arn: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.name.removeprefix(args.prefix + '-')}",
            name=spec.name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(spec.dimensions) or None,
            statistic=spec.statistic,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            threshold=spec.threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=dict(args.tags),
            opts=child,
        )


def _count_lines(
    logical_name: str,
    name: str,
    log_group: pulumi.Input[str],
    metric: LogMetric,
    namespace: str,
    child: pulumi.ResourceOptions,
) -> None:
    """A metric filter counting the log group's lines that match `metric`'s pattern."""
    aws.cloudwatch.LogMetricFilter(
        logical_name,
        name=name,
        log_group_name=log_group,
        pattern=metric.pattern,
        metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
            name=metric.metric, namespace=namespace, value="1", unit="Count"
        ),
        opts=child,
    )


def _dashboard(args: MonitoringArgs) -> dict[str, Any]:
    """Requests, errors, latency and throttles per route and function, and webhook outcomes."""

    def widget(title: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": args.region,
                "stat": stat,
                "period": FIVE_MINUTES,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    per_route, errors, latency = _route_metrics(args)
    lambdas, durations = _function_metrics(args)
    webhook_answers = [
        [webhook_metrics_namespace(args.prefix), metric.metric] for metric in webhook_log_metrics()
    ]
    return {
        "widgets": [
            widget("Requests per route", per_route),
            widget("4xx and 5xx per route", errors),
            widget("Latency per route (ms)", latency, "p90"),
            widget("Webhook answers refused (4xx) and failed (5xx)", webhook_answers),
            widget("Lambda invocations, errors, throttles", lambdas),
            widget("Lambda duration (ms)", durations, "p90"),
            _outcomes_widget(args),
            *_usage_widgets(args),
        ]
    }


def _usage_widgets(args: MonitoringArgs) -> list[dict[str, Any]]:
    """One row for usage: the queue's traffic, its dead letters, its oldest message's age, and
    the usage function's invocations, errors and duration."""
    if not (args.usage_queue and args.usage_dead_letter_queue and args.usage_function):
        return []
    queue = ["AWS/SQS", "QueueName", args.usage_queue]
    visible = {"stat": "Maximum"}
    function = ["FunctionName", args.usage_function]
    threshold = {"label": "alarm", "value": USAGE_OLDEST_MESSAGE_ALARM_SECONDS}

    def widget(title: str, metrics: list[list[Any]], **properties: Any) -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 6,
            "height": 6,
            "properties": {"title": title, "region": args.region, "stat": "Sum",
                           "period": FIVE_MINUTES, "view": "timeSeries", "metrics": metrics,
                           **properties},
        }  # fmt: skip

    return [
        widget("Usage queue: messages sent, received, visible", [
            [queue[0], "NumberOfMessagesSent", *queue[1:]],
            [queue[0], "NumberOfMessagesReceived", *queue[1:]],
            [queue[0], "ApproximateNumberOfMessagesVisible", *queue[1:], visible],
        ]),
        widget("Usage dead-letter queue: visible messages (not billed)", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
             args.usage_dead_letter_queue, visible],
        ]),
        widget("Usage queue: oldest message's age (s)", [
            [queue[0], "ApproximateAgeOfOldestMessage", *queue[1:]],
        ], stat="Maximum", annotations={"horizontal": [threshold]}),
        widget("Usage function: invocations, errors, duration (ms, right)", [
            ["AWS/Lambda", "Invocations", *function],
            ["AWS/Lambda", "Errors", *function],
            ["AWS/Lambda", "Duration", *function, {"stat": "p90", "yAxis": "right"}],
        ]),
    ]  # fmt: skip


def _route_metrics(args: MonitoringArgs) -> tuple[list[list[Any]], ...]:
    """API Gateway's requests, 4xx/5xx and latency percentiles for each declared route."""
    api = ["ApiId", args.api_id, "Stage", "$default"]
    routes = [route.key for route in (*contract.SUBSCRIPTION_ROUTES, *contract.WEBHOOK_ROUTES)]
    per_route = [["AWS/ApiGateway", "Count", *api, "Route", route] for route in routes]
    errors = [
        ["AWS/ApiGateway", status, *api, "Route", route]
        for route in routes
        for status in ("4xx", "5xx")
    ]
    latency = [
        ["AWS/ApiGateway", "Latency", *api, "Route", route, {"stat": stat}]
        for route in routes
        for stat in ("p50", "p90", "p99")
    ]
    return per_route, errors, latency


def _function_metrics(args: MonitoringArgs) -> tuple[list[list[Any]], ...]:
    """Each function's invocations, errors, throttles and duration percentiles."""
    usage = [args.usage_function] if args.usage_function else []
    functions = [*args.api_functions, args.reconcile_function, *usage]
    lambdas = [
        ["AWS/Lambda", metric, "FunctionName", function]
        for function in functions
        for metric in ("Invocations", "Errors", "Throttles")
    ]
    durations = [
        ["AWS/Lambda", "Duration", "FunctionName", function, {"stat": stat}]
        for function in functions
        for stat in ("p50", "p90", "p99")
    ]
    return lambdas, durations


def _outcomes_widget(args: MonitoringArgs) -> dict[str, Any]:
    return {
        "type": "log",
        "width": 24,
        "height": 6,
        "properties": {
            "title": "Webhook outcomes",
            "region": args.region,
            "view": "table",
            "query": (
                f"SOURCE '/aws/lambda/{args.webhook_function}' "
                "| filter ispresent(outcome) | stats count(*) by eventType, outcome"
            ),
        },
    }
