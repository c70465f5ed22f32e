"""Pulumi entry point: read the stack's settings, build the billing stack, export its outputs."""

import pulumi

from billing.config import load_settings
from billing.stack import build_stack

stack = build_stack(load_settings())

pulumi.export("apiUrl", stack.api_url)
pulumi.export("alarmTopicArn", stack.alarm_topic_arn)
pulumi.export("webhookUrl", stack.webhook_url)
pulumi.export("secretArn", stack.secret_arn)
pulumi.export("productId", stack.product_id)
pulumi.export("monthlyPriceId", stack.monthly_price_id)
pulumi.export("annualPriceId", stack.annual_price_id)
pulumi.export("catalog", stack.catalog)
pulumi.export("subscriptionFunctionName", stack.subscription_function_name)
pulumi.export("webhookFunctionName", stack.webhook_function_name)
pulumi.export("reconcileFunctionName", stack.reconcile_function_name)
pulumi.export("usersTableName", stack.users_table_name)
pulumi.export("eventsTableName", stack.events_table_name)
pulumi.export("usageFunctionName", stack.usage_function_name)
pulumi.export("usageQueueUrl", stack.usage_queue_url)
pulumi.export("usageQueueArn", stack.usage_queue_arn)
pulumi.export("usageProducerPolicyArn", stack.usage_producer_policy_arn)
