"""The Lambda layer: pinned Stripe library plus lambdas/shared, built by the program."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from billing.build.packaging import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, BuiltArchive


@dataclass(frozen=True)
class SharedLayerArgs:
    """The built archive and the layer's physical name."""

    layer_name: str
    archive: BuiltArchive


class SharedLayer(pulumi.ComponentResource):
    """A layer version whose hash is the archive's: unchanged sources give no diff."""

    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SharedLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:SharedLayer", name, None, opts)
        layer = aws.lambda_.LayerVersion(
            f"{name}-version",
            layer_name=args.layer_name,
            code=pulumi.FileArchive(str(args.archive.directory)),
            source_code_hash=args.archive.sha256,
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[LAMBDA_ARCHITECTURE],
            description="stripe (pinned) and the billing Lambdas' shared code",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = layer.arn
        self.register_outputs({"arn": self.arn})
