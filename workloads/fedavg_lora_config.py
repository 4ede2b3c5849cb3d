"""The keys of ``fedavg_lora`` (workloads/fedavg_lora.py): the language-model keys; torch-free, read by the scenario schema."""

from __future__ import annotations

from typing import ClassVar

from workloads.config import LMConfig

__all__ = ["FedAvgLoraConfig"]


class FedAvgLoraConfig(LMConfig):
    """LoRA weights averaged (FedIT); a weight update applies to a newer model, so it also runs asynchronously."""

    asynchronous: ClassVar[bool] = True
