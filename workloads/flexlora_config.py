"""The keys of ``flexlora`` (workloads/flexlora.py); torch-free, read by the scenario schema."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from workloads.config import LMConfig, problem

__all__ = ["FlexLoraConfig"]


class FlexLoraConfig(LMConfig):
    """FlexLoRA: per-client LoRA rank; the server averages the full-size updates and sends each a truncated SVD."""

    flex_rank_rule: Literal["budget", "list"] = Field(
        "budget",
        description="flexlora: budget = each client's rank is the largest flex_ranks entry whose exact upload fits "
        "flex_budget_share of its first round's budget (device speed and link); list = client i takes flex_ranks[i], cycled",
    )
    flex_ranks: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        [2, 4, 8], min_length=1, description="flexlora: the LoRA ranks a client may take (each at most lora_rank)"
    )
    flex_budget_share: float = Field(
        0.5, gt=0, le=1, description="flexlora: share of the first budget's max_bits the chosen rank's upload may fill"
    )


    @model_validator(mode="after")
    def _ranks_fit(self) -> FlexLoraConfig:
        for i, rank in enumerate(self.flex_ranks):
            if rank > self.lora_rank:
                raise problem(("flex_ranks", i), f"{rank} is larger than lora_rank={self.lora_rank}, the LoRA every client is built with")
        return self
