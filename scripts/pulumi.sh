#!/usr/bin/env bash
# `make up|preview|destroy STACK=s ARGS='...'`: a real `pulumi <command>` on one stack.
#
# - Any backend: PULUMI_BACKEND_URL as set (s3://, azblob://, Pulumi Cloud's https://...), else
#   a local file backend in .pulumi-state/.
# - Any secrets provider: the stack file's `secretsprovider:` (or PULUMI_SECRETS_PROVIDER for a
#   new stack, default passphrase). The passphrase is required only where the stack uses it.
# - Says which AWS account and region it is about to change, and stops when there are no AWS
#   credentials (before it selects or creates the stack), using the AWS CLI or any Python with
#   boto3 (not the test tooling).
# - `up` and `preview` run the policy pack; `destroy` runs the program (`--run-program`), since
#   the hooks that archive Stripe prices and the portal configuration live in it.
# Everything after the stack name is passed to pulumi as is.
set -euo pipefail
command=${1:?usage: scripts/pulumi.sh up|preview|destroy STACK [pulumi arguments...]}
stack=${2:-dev}
shift $(($# >= 2 ? 2 : $#))
cd "$(dirname "$0")/.."

fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

case $command in
  up|preview) extra=(--policy-pack policy) ;;
  destroy) extra=(--run-program) ;;
  *) fail "unknown command '$command': use up, preview or destroy" ;;
esac

command -v pulumi >/dev/null 2>&1 \
  || fail "the Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/"
# Resource hooks (the Stripe archiving) reached the engine in 3.182.0 (2025-07-14).
required=3.182.0
version=$(pulumi version 2>/dev/null | sed 's/^v//')
if [ -n "$version" ] && [ "$(printf '%s\n%s\n' "$required" "$version" | sort -V | head -n1)" != "$required" ]; then
  fail "Pulumi CLI $version is too old: the hooks that archive Stripe prices need $required or newer (pulumi self-update, or reinstall)"
fi
stack_file="Pulumi.${stack}.yaml"
[ -f "$stack_file" ] || fail "no ${stack_file}: copy Pulumi.dev.yaml and edit it"

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
case $PULUMI_BACKEND_URL in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac

# The stack's secrets provider: what its file records, else what a new stack will get.
provider=$(sed -n 's/^secretsprovider:[[:space:]]*//p' "$stack_file" | tr -d "\"'")
if [ -z "$provider" ]; then
  if grep -q '^encryptionsalt:' "$stack_file"; then
    provider=passphrase
  else
    provider=${PULUMI_SECRETS_PROVIDER:-passphrase}
  fi
fi
if [ "$provider" = passphrase ] \
  && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  fail "stack ${stack} encrypts its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), or use another provider (PULUMI_SECRETS_PROVIDER=awskms://...)"
fi

account=""
if command -v aws >/dev/null 2>&1; then
  account=$(aws sts get-caller-identity --query Account --output text 2>/dev/null) \
    || fail "no AWS credentials: run 'aws configure' or export AWS_PROFILE"
else
  for python in .venv/bin/python python3; do
    if command -v "$python" >/dev/null 2>&1 && "$python" -c 'import boto3' 2>/dev/null; then
      account=$("$python" -c 'import boto3; print(boto3.client("sts").get_caller_identity()["Account"])' 2>/dev/null) \
        || fail "no AWS credentials: run 'aws configure' or export AWS_PROFILE"
      break
    fi
  done
  [ -n "$account" ] || say "warning: neither the AWS CLI nor boto3 is here to check AWS credentials; pulumi will"
fi
# Only now, with credentials known to work, is a new stack created.
pulumi stack select "$stack" 2>/dev/null \
  || pulumi stack init "$stack" --secrets-provider "$provider"

region=$(pulumi config get aws:region --stack "$stack" 2>/dev/null || true)
say "pulumi ${command}: stack ${stack}, AWS account ${account:-unknown}, region ${region:-from your AWS profile}, backend ${PULUMI_BACKEND_URL}"

pulumi config get stripe:apiKey --stack "$stack" >/dev/null 2>&1 \
  || fail "stripe:apiKey is not set: pulumi config set --stack ${stack} --secret stripe:apiKey <sk_test_...>"
pulumi config get saas-billing:stripePublishableKey --stack "$stack" >/dev/null 2>&1 \
  || fail "saas-billing:stripePublishableKey is not set: pulumi config set --stack ${stack} saas-billing:stripePublishableKey <pk_test_...>"

exec pulumi "$command" --stack "$stack" "${extra[@]}" "$@"
