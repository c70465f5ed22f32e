"""The stripe_webhook function; Lambda calls `stripe_webhook.handler.handler`."""
