"""Token alignment between clients with different tokenizers (workloads.align), offline and tiny."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

import workloads
from sim.run import run_scenario
from sim.config.scenario import Scenario
from tests.workloads.conftest import tiny_scenario
from workloads.align import align_positions, detect_scheme, from_anchor, normalise_piece, to_anchor, vocab_map
from workloads.base import Budget
from workloads.payload import decode_topk, unpack_parts

BIG = Budget(max_bits=10**9, rate_bps=1e9, snr_db=30.0, deadline_s=1.0)
# Client 0 (the anchor) and 2 read a 320-token BPE, clients 1 and 3 a 512-token one trained on the same text.
TWO_TOKENIZERS = [{"vocab_size": 320}, {"vocab_size": 512, "family": "qwen2"}]


def scenario(**workload):
    return tiny_scenario("adaptive_topk", client_models=TWO_TOKENIZERS, warmup_steps=5, distill_positions=3, **workload)


@pytest.fixture(scope="module")
def alg():
    scn = Scenario.model_validate(scenario())
    return workloads.create("adaptive_topk", scn.workload, scn.clients.count, scn.seed)


def test_pieces_normalise_to_the_bytes_they_stand_for():
    assert normalise_piece("Ġthe", "byte_level") == b" the"
    assert normalise_piece("ĊTopic", "byte_level") == b"\nTopic"
    assert normalise_piece("Ã©", "byte_level") == "é".encode()  # two byte-level characters, one UTF-8 letter
    assert normalise_piece("▁the", "sentencepiece") == b" the"
    assert normalise_piece("<0x0A>", "sentencepiece") == b"\n"
    assert normalise_piece("the", "plain") == b"the"
    assert detect_scheme(["▁a", "▁b", "c"]) == "sentencepiece" and detect_scheme(["Ġa", "b"]) == "byte_level"
    with pytest.raises(ValueError, match="unknown token scheme 'bpe'"):
        normalise_piece("a", "bpe")


def test_vocab_map_by_hand():
    anchor = [b"<pad>", b" the", b"\n", b"cat", b" the"]  # id 4 duplicates id 1
    client = [b" the", b"dog", b"\n", None, b"cat", b" the"]
    m = vocab_map(client, anchor)
    np.testing.assert_array_equal(m.to_anchor, [1, -1, 2, -1, 3, 1])
    np.testing.assert_array_equal(m.from_anchor, [-1, 0, 2, 4, 0])
    probs = torch.tensor([[0.4, 0.3, 0.1, 0.05, 0.1, 0.05]])
    # " the" twice adds up; "dog" and the unnamed id have no counterpart: 0.35 of the mass drops out.
    np.testing.assert_allclose(to_anchor(probs, m, 5).numpy(), [[0.0, 0.45, 0.1, 0.1, 0.0]], atol=1e-7)
    back, sup = from_anchor(np.array([[0.2, 0.5, 0.1, 0.15, 0.05]]), np.array([[True, True, True, True, True]]), m, 6)
    np.testing.assert_allclose(back, [[0.55, 0, 0.1, 0, 0.15, 0]], atol=1e-7)  # <pad> has no counterpart
    np.testing.assert_array_equal(sup, [[True, False, True, False, True, False]])


def test_align_positions_by_hand():
    anchor = np.array([[9, 5, 3, 0], [-1, 6, 2, 0]])
    other = np.array([[7, 5, 4, 3, 0], [6, 4, 2, 1, 0]])
    (ar, ac), (orow, ocol) = align_positions([anchor, other], last=3)
    # Row 0: distances 5, 3, 0 all exist in the other; row 1: 6, 2, 0 do too.
    np.testing.assert_array_equal(ar, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ac, [1, 2, 3, 1, 2, 3])
    np.testing.assert_array_equal(ocol, [1, 3, 4, 0, 2, 4])
    (ar, ac), (_, ocol) = align_positions([anchor, np.array([[5, 0, -1, -1, -1], [6, 1, 0, -1, -1]])], last=3)
    np.testing.assert_array_equal(ac, [1, 3, 1, 3])  # distance 3 (row 0) and 2 (row 1) have no counterpart
    np.testing.assert_array_equal(ocol, [0, 1, 0, 2])


def test_the_map_round_trips_shared_tokens_of_two_real_bpe_vocabularies(alg):
    anchor, client = alg.views["tiny-v320"], alg.views["tiny-v512"]
    assert anchor.vmap is None and client.vmap is not None
    to_a, from_a = client.vmap.to_anchor, client.vmap.from_anchor
    shared = np.flatnonzero(to_a >= 0)
    assert 250 < shared.size < 512  # most of the smaller vocabulary, not all of the larger one
    np.testing.assert_array_equal(from_a[to_a[shared]], shared)
    for t in alg.task.label_token_ids:  # the label words are in both
        assert from_a[t] >= 0


def test_exchanged_positions_have_read_the_same_text(alg):
    anchor, client = alg.views["tiny-v320"], alg.views["tiny-v512"]
    assert anchor.rows.numel() == client.rows.numel() == alg.positions
    assert torch.equal(anchor.rows, client.rows)
    last = anchor.public.shape[1] - 1
    assert int((anchor.cols == last).sum()) == anchor.public.shape[0]  # the label slot is always exchanged
    # So is the last text token (the cut is at an anchor token end); the third-last position of
    # some articles has no counterpart in the 512-token BPE and is dropped.
    assert 2 * 16 <= alg.positions < 3 * 16

    def text_before(view, row, col):
        # The BPE pre-splits on whitespace, so pieces concatenate to the text without its spaces.
        return "".join(view.tokens.pieces[i] for i in view.public[row, : col + 1].tolist())

    for r, ca, cc in zip(anchor.rows.tolist(), anchor.cols.tolist(), client.cols.tolist()):
        a, c = text_before(anchor, r, ca), text_before(client, r, cc)
        tail = min(len(a), len(c), 40)
        assert a[-tail:] == c[-tail:], (r, ca, cc)


def test_uploads_and_aggregate_live_in_the_anchor_vocabulary(alg):
    payloads = {i: alg.local_update(i, 0, BIG) for i in range(4)}
    alg.aggregate(0, payloads, {})
    metrics = alg.evaluate(0)
    assert alg.target[0].shape == (alg.positions, 320) == alg.target[1].shape
    assert all(p.k <= 320 for p in payloads.values())
    # The 512-token clients lose the mass of tokens the 320-token vocabulary lacks, but not most of it.
    assert 0.5 < metrics["eval_mapped_mass"] < 1.0
    assert 0.0 < metrics["eval_mapped_topk"] < 1.0 and 0.0 < metrics["eval_mapped_topk_mass"] <= 1.0
    probs, support = alg._target_for(alg.clients[1])
    assert probs.shape == (alg.positions, 512)
    assert np.all(probs.sum(axis=1) <= 1.0 + 1e-3) and np.all(probs[~support] == 0)
    assert np.all(probs.sum(axis=1) <= alg.target[0].sum(axis=1) + 1e-5)
    alg.local_update(1, 1, BIG)  # distils toward the mapped-back target


def test_a_client_sends_only_anchor_tokens_it_can_reach():
    # The other way round: the 512-token BPE is the anchor, so a 320-token client reaches
    # at most 320 of its entries; past them it would have only floor values to send.
    reverse = [{"vocab_size": 512}, {"vocab_size": 320, "family": "qwen2"}]
    scn = Scenario.model_validate(tiny_scenario("adaptive_topk", client_models=reverse, warmup_steps=5, distill_positions=1))
    alg = workloads.create("adaptive_topk", scn.workload, scn.clients.count, scn.seed)
    reach = alg.views["tiny-v320"].vmap.reachable
    p = alg.local_update(1, 0, BIG)
    sent = decode_topk(unpack_parts(p.content)[0])

    assert 0 < reach <= 320 < alg.vocab and p.k == reach
    assert np.all(np.isfinite(sent.values)) and np.all(sent.values > -60.0)  # no log(1e-30) floor was sent
    assert alg.local_update(0, 0, BIG).k == alg.vocab  # the anchor itself is not capped


def test_a_mixed_tokenizer_run_completes_and_repeats_byte_for_byte(tmp_path):
    scn = Scenario.model_validate(scenario(kl_normalisation="renorm"))
    run_scenario(scn, tmp_path / "a")
    run_scenario(scn, tmp_path / "b")
    with open(tmp_path / "a" / "rounds.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0.0 < float(r["eval_mapped_mass"]) < 1.0 for r in rows)
    for name in ("rounds.csv", "clients.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
