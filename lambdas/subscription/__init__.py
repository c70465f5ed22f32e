"""The subscription function; Lambda calls `subscription.handler.handler`."""
