"""The keys of ``fedbiot`` (workloads/fedbiot.py); torch-free, read by the scenario schema.

docs/algorithms.md's section on fedbiot and flexlora gives each choice's source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workloads.config import OffsiteConfig, one_server_llm_problem, problem, server_layers

__all__ = ["FedBiotConfig"]


class FedBiotConfig(OffsiteConfig):
    """FedBiOT: adapter LoRA on a layer-dropped emulator that the server aligns layer-wise."""

    adapter_layers: int = Field(
        1, ge=1, le=32,
        description="fedbiot: adapter layers, where the clients' LoRA adapters live: at the top of the model, or at "
        "each end with biot_adapter_side both",
    )
    biot_adapter_side: Literal["top", "both"] = Field(
        "top", description="fedbiot: adapter_layers at the top of the model (FedBiOT), or at both ends (Offsite-tuning)"
    )
    biot_emulator_layers: int = Field(
        1, ge=0, le=1024, description="fedbiot: emulator layers kept, spread uniformly over the non-adapter layers (layer dropping)"
    )
    biot_weight_dtype: Literal["fp32", "fp16", "bf16"] = Field(
        "bf16", description="fedbiot: storage and download format of the frozen emulator and adapter base weights"
    )
    biot_prox: float = Field(
        0.01, ge=0, le=1e6,
        description="fedbiot: lambda of the clients' proximal term, lambda times the squared L2 distance of the adapter "
        "LoRA from a_0, the one the round started from",
    )
    biot_align_init_steps: int = Field(
        4, ge=0, le=100_000, description="fedbiot: alignment steps of the emulator LoRA before the sub-LLM is released"
    )
    biot_align_steps: int = Field(2, ge=0, le=100_000, description="fedbiot: alignment steps of the emulator LoRA after each aggregation")
    biot_align_lr: float = Field(1e-3, gt=0, le=1, description="fedbiot: learning rate of the alignment (AdamW)")
    biot_hidden_weight: float = Field(
        1.0, ge=0, le=1e3, description="fedbiot: weight of the layer-wise hidden-state loss (mean over emulator layers)"
    )
    biot_hidden_distance: Literal["l2", "cosine"] = Field(
        "l2", description="fedbiot: l2 = squared error over the teacher's squared norm; cosine = one minus the mean token cosine"
    )
    biot_logit_weight: float = Field(1.0, ge=0, le=1e3, description="fedbiot: weight of the logit KL (temperature, distill_positions)")

    @model_validator(mode="after")
    def _fits_the_server_llm(self) -> FedBiotConfig:
        one_model = one_server_llm_problem(self, "fedbiot", does="splits", done="split")
        if one_model:
            raise one_model
        layers = server_layers(self)
        ends = 2 if self.biot_adapter_side == "both" else 1
        need = ends * self.adapter_layers + self.biot_emulator_layers
        if need > layers:
            raise problem("biot_emulator_layers", (
                f"fedbiot needs {need} layers ({ends} x adapter_layers={self.adapter_layers} + "
                f"biot_emulator_layers={self.biot_emulator_layers}) but the model has {layers}"
            ))
        return self
