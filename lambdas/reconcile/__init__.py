"""The reconcile function; Lambda calls `reconcile.handler.handler`."""
