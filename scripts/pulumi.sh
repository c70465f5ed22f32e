#!/usr/bin/env bash
# Run a real `pulumi <command>` on a stack with a local file state backend and the passphrase
# secrets provider, so no Pulumi Cloud account is needed. Fails early, with a clear message,
# when the CLI, the passphrase, AWS credentials or the Stripe key are missing.
set -euo pipefail
command=${1:?usage: scripts/pulumi.sh up|preview|destroy STACK}
stack=${2:-dev}
cd "$(dirname "$0")/.."

fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v pulumi >/dev/null 2>&1 \
  || fail "the Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/"
[ -f "Pulumi.${stack}.yaml" ] || fail "no Pulumi.${stack}.yaml: copy Pulumi.dev.yaml and edit it"

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
case $PULUMI_BACKEND_URL in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  fail "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): it encrypts this stack's secrets"
fi

pulumi stack select "$stack" 2>/dev/null \
  || pulumi stack init "$stack" --secrets-provider passphrase

.venv/bin/python - <<'PY' || fail "no AWS credentials: run 'aws configure' or export AWS_PROFILE"
import boto3
boto3.client("sts").get_caller_identity()
PY

pulumi config get stripe:apiKey >/dev/null 2>&1 \
  || fail "stripe:apiKey is not set: pulumi config set --secret stripe:apiKey <sk_test_...>"
pulumi config get saas-billing:stripePublishableKey >/dev/null 2>&1 \
  || fail "saas-billing:stripePublishableKey is not set: pulumi config set saas-billing:stripePublishableKey <pk_test_...>"

exec pulumi "$command" --stack "$stack"
