"""The keys of ``fedsoda`` (workloads/fedsoda.py); torch-free, read by the scenario schema.

docs/algorithms.md's section on fedsoda gives each choice's source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workloads.config import OffsiteConfig, one_server_llm_problem, problem, server_layers

__all__ = ["FedSodaConfig"]


class FedSodaConfig(OffsiteConfig):
    """FedSODA: similarity group pruning to a sub-LLM, orchestrated distillation alignment, (Q)LoRA adapters."""

    adapter_layers: int = Field(
        1, ge=1, le=32,
        description="fedsoda: adapter layers at each end of the model, where the clients' LoRA adapters live",
    )
    sgp_similarity: Literal["cka", "cosine"] = Field(
        "cka", description="fedsoda: similarity of a layer's input and output hidden states (linear CKA or mean token cosine)"
    )
    sgp_skip_positions: int = Field(
        1, ge=0, le=4096, description="fedsoda: first positions of each public sequence left out of the similarity (attention sink)"
    )
    sgp_select: Literal["count", "threshold"] = Field(
        "count",
        description="fedsoda: count = keep the sgp_emulator_layers least similar middle layers; threshold = keep "
        "every middle layer whose similarity is below sgp_threshold",
    )
    sgp_emulator_layers: int = Field(2, ge=0, le=1024, description="fedsoda: middle (emulator) layers kept, sgp_select count")
    sgp_threshold: float = Field(0.95, ge=0, le=1, description="fedsoda: similarity below which a middle layer is kept, sgp_select threshold")
    oda_init_steps: int = Field(
        4, ge=0, le=100_000, description="fedsoda: alignment steps of the emulator LoRA before the sub-LLM is released"
    )
    oda_steps: int = Field(2, ge=0, le=100_000, description="fedsoda: alignment steps of the emulator LoRA after each aggregation")
    oda_lr: float = Field(1e-3, gt=0, le=1, description="fedsoda: learning rate of the alignment (AdamW)")
    oda_hidden_weight: float = Field(
        1.0, ge=0, le=1e3, description="fedsoda: weight of the hidden-state loss (input of the top adapter layers)"
    )
    oda_logit_weight: float = Field(1.0, ge=0, le=1e3, description="fedsoda: weight of the logit KL (temperature, distill_positions)")
    quantization: Literal["none", "int8", "nf4"] = Field(
        "nf4", description="fedsoda: storage of the clients' frozen sub-LLM layer weights (nf4 through bitsandbytes on CUDA)"
    )
    quant_block: int = Field(64, ge=2, le=4096, description="fedsoda: NF4 block size [weights per absmax]")
    quant_double: bool = Field(True, description="fedsoda: double-quantise the NF4 absmax constants (QLoRA)")
    quant_other_dtype: Literal["fp32", "fp16", "bf16"] = Field(
        "bf16", description="fedsoda: storage of the tensors left unquantised (embeddings, norms, biases)"
    )

    @model_validator(mode="after")
    def _fits_the_server_llm(self) -> FedSodaConfig:
        one_model = one_server_llm_problem(self, "fedsoda", does="prunes", done="pruned")
        if one_model:
            raise one_model
        layers = server_layers(self)
        count = self.sgp_select == "count"
        need = 2 * self.adapter_layers + (self.sgp_emulator_layers if count else 0)
        if need > layers:
            raise problem("sgp_emulator_layers" if count else "adapter_layers", (
                f"fedsoda needs {need} layers (2 x adapter_layers={self.adapter_layers}"
                + (f" + sgp_emulator_layers={self.sgp_emulator_layers}" if count else "")
                + f") but the model has {layers}"
            ))
        if self.sgp_skip_positions > self.text_tokens:
            raise problem("sgp_skip_positions", f"must be at most text_tokens={self.text_tokens} (got {self.sgp_skip_positions})")
        return self
