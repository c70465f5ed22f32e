"""Code shared by the billing Lambdas, shipped in the layer: secrets, clients, users store, HTTP."""
