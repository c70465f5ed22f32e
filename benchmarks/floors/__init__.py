"""Floor handlers: for each route, the least a handler must do (its imports and round trips).

`make bench` lays each one out like a function (as `handler.py`, with python3.12 bytecode) and
times its cold first response against the real handler's, in alternating pairs. A route's ratio
is its median over its floor's median: what the project's own code adds to what the route
cannot avoid.
"""
