"""The billing system's Pulumi components, one module per concern."""
