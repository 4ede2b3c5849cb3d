"""The keys of ``adaptive_topk`` (AdaLD, workloads/adaptive_topk.py); torch-free, read by the scenario schema."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workloads.config import chosen_layers, model_shapes, problem
from workloads.distill_config import DistillConfig

__all__ = ["AdaptiveTopkConfig"]


class AdaptiveTopkConfig(DistillConfig):
    """AdaLD: the top-k logit budget follows the link; support-aware aggregation; a shared LoRA hidden projection."""

    hidden_weight: float = Field(
        0.1, ge=0, le=1e3, description="lambda of the LoRA hidden-projection loss (adaptive_topk; 0 = not shared)"
    )
    adaptive_aggregation: Literal["support", "zeropad"] = Field(
        "support",
        description="adaptive_topk: support = mean of each entry over the clients that sent it (AdaLD); zeropad = "
        "mean over all senders with unsent entries as 0 (the ablation of support-aware aggregation)",
    )
    hidden_layer: int = Field(-1, ge=-64, le=63, description="layer whose LoRA down-projection is shared (-1 = last)")
    eta: float = Field(0.9, gt=0, le=1, description="share of the upload budget for logits (adaptive_topk)")
    k_min: int = Field(1, ge=1, le=262_144, description="smallest k worth sending; below it the client skips")
    index_coding: Literal["fixed", "entropy"] = Field(
        "fixed", description="top-k index coding: fixed = ceil(log2 V) bits; entropy = enumerative (adaptive_topk)"
    )

    @model_validator(mode="after")
    def _fits_the_models(self) -> AdaptiveTopkConfig:
        for source, _, layers, _, vocab in model_shapes(self):
            if self.hidden_weight > 0 and not -layers <= self.hidden_layer < layers:
                raise problem("hidden_layer", f"{self.hidden_layer} is outside the {source} model's {layers} layers")
            if self.hidden_weight > 0 and self.lora_layers is not None:
                chosen = chosen_layers(self.lora_layers, layers)
                if range(layers)[self.hidden_layer] not in chosen:
                    raise problem("hidden_layer", (
                        f"{self.hidden_layer} is layer {range(layers)[self.hidden_layer]} of the {source} model, which "
                        f"carries no LoRA (lora_layers: {chosen})"
                    ))
            if self.k_min > vocab:
                raise problem("k_min", f"{self.k_min} is larger than the {source} model's vocabulary of {vocab}")
        return self
