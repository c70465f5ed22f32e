"""The `snapStart` option: published versions with SnapStart, routes through a `live` alias."""

from __future__ import annotations

import pytest

from tools.mock_engine import PROJECT, Recording, base_config, run_program

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"


@pytest.fixture(scope="module")
def snap() -> Recording:
    return run_program(base_config("dev", **{f"{PROJECT}:snapStart": True}))


def test_off_by_default_functions_are_invoked_directly() -> None:
    plain = run_program(base_config("dev"))
    assert plain.of_type(ALIAS) == []
    for function in plain.of_type(FUNCTION):
        assert "snapStart" not in function.inputs and not function.inputs.get("publish")
    integration = plain.of_type("aws:apigatewayv2/integration:Integration")[0]
    assert ":function:" in integration.inputs["integrationUri"]
    assert ":live" not in integration.inputs["integrationUri"]


def test_both_functions_publish_snapstart_versions_behind_a_live_alias(snap: Recording) -> None:
    functions = [f for f in snap.of_type(FUNCTION) if not f.name.startswith(("reconcile", "usage"))]
    assert len(functions) == 2
    for function in functions:
        assert function.inputs["publish"] is True
        assert function.inputs["snapStart"] == {"applyOn": "PublishedVersions"}
    aliases = {a.inputs["functionName"]: a for a in snap.of_type(ALIAS)}
    assert set(aliases) == {f.inputs["name"] for f in functions}
    for alias in aliases.values():
        assert alias.inputs["name"] == "live"


def test_routes_and_permissions_target_the_alias(snap: Recording) -> None:
    aliases = {a.urn: a for a in snap.of_type(ALIAS)}
    for integration in snap.of_type("aws:apigatewayv2/integration:Integration"):
        assert any(
            integration.inputs["integrationUri"] == alias.outputs.get("invokeArn")
            for alias in aliases.values()
        ), integration.urn
    for permission in snap.of_type("aws:lambda/permission:Permission"):
        assert permission.inputs["qualifier"] == "live", permission.urn
        waits_for = {snap.by_urn(urn).type for urn in permission.dependencies}
        assert ALIAS in waits_for, f"{permission.urn} must follow the alias resource, not a literal"
