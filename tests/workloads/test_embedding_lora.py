"""LoRA on the token embeddings (``lora_targets: [..., embed_tokens]``): shapes, init and training."""

from __future__ import annotations

import pytest
import torch

from workloads.models import ModelSpec, add_lora, build_base, init_lora, lora_state

VOCAB, HIDDEN, RANK = 96, 16, 4


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_embedding_adapter_has_one_rank_vector_per_token_and_starts_as_the_base(family):
    base = build_base(ModelSpec(family, VOCAB, HIDDEN, 1, 2, 12), seed=1)
    x = torch.arange(10).reshape(1, 10)
    with torch.no_grad():
        before = base(input_ids=x).logits.clone()
    model = add_lora(base, family, RANK, 8.0, ["q_proj", "embed_tokens"], torch.Generator().manual_seed(0))

    emb = {n: p for n, p in lora_state(model).items() if "lora_embedding" in n}
    shapes = sorted(a.shape for a in emb.values())
    # Hand count: A is [r, vocab] (a trainable r-vector per token), B is [hidden, r].
    assert shapes == sorted([(HIDDEN, RANK), (RANK, VOCAB)])
    assert not any((a != 0).any() for n, a in emb.items() if "lora_embedding_A" in n)
    with torch.no_grad():
        after = model(input_ids=x).logits
    torch.testing.assert_close(after, before, rtol=0, atol=0)  # B A = 0 and every linear B = 0


def test_each_client_draws_its_own_embedding_adapter_from_its_generator():
    model = add_lora(build_base(ModelSpec("llama", VOCAB, HIDDEN, 1, 2, 12), seed=1), "llama", RANK, 8.0,
                     ["embed_tokens"], torch.Generator().manual_seed(0))

    def b_after(seed: int) -> torch.Tensor:
        init_lora(model, torch.Generator().manual_seed(seed))
        return next(p.detach().clone() for n, p in model.named_parameters() if "lora_embedding_B" in n)

    first, again, other = b_after(5), b_after(5), b_after(6)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)
    assert float(first.std()) == pytest.approx(1.0, abs=0.25)  # N(0, 1), as PEFT initialises it


def test_training_moves_only_the_rows_of_tokens_it_saw():
    model = add_lora(build_base(ModelSpec("llama", VOCAB, HIDDEN, 1, 2, 12), seed=1), "llama", RANK, 8.0,
                     ["embed_tokens", "lm_head"], torch.Generator().manual_seed(0))
    a = next(p for n, p in model.named_parameters() if "lora_embedding_A" in n)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x = torch.tensor([[3, 4, 5, 6]])
    loss = model(input_ids=x, labels=x).loss
    loss.backward()
    opt.step()

    moved = (a.detach() != 0).any(dim=0).nonzero().flatten().tolist()
    # Token 6 is last: nothing after it is scored, so its row gets no gradient; 3, 4, 5 predict 4, 5, 6.
    assert moved == [3, 4, 5]
