"""Gilbert-Elliott bursty loss: a two-state Markov chain per client.

Each client's link is Good or Bad; at every channel draw (every round) it
moves Good -> Bad with probability ``p_enter_bad`` and Bad -> Good with
``p_leave_bad``, and in each state a packet is lost with an extra probability
(``loss_good``, ``loss_bad``) on top of the link's BLER.  The chain starts in
its stationary distribution, so the loss process is stationary from round 0:

    P(Bad) = p_enter_bad / (p_enter_bad + p_leave_bad)
    mean Bad burst = 1 / p_leave_bad draws
    mean extra loss = P(Good) loss_good + P(Bad) loss_bad

The state changes per draw, not per packet: a Bad round loses packets at
``loss_bad`` throughout, which is what makes ARQ fail in bursts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GilbertElliott"]


class GilbertElliott:
    """Per-client Good/Bad chains; one generator per client.

    rngs : one generator per client (its own stream of uniforms)
    chunk : uniforms drawn per client at a time (fewer Python calls per draw)
    """

    def __init__(
        self,
        rngs: list[np.random.Generator],
        p_enter_bad: float,
        p_leave_bad: float,
        loss_good: float = 0.0,
        loss_bad: float = 1.0,
        chunk: int = 64,
    ) -> None:
        for name, v in (("p_enter_bad", p_enter_bad), ("p_leave_bad", p_leave_bad), ("loss_good", loss_good), ("loss_bad", loss_bad)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if p_enter_bad + p_leave_bad == 0.0:
            raise ValueError("p_enter_bad and p_leave_bad cannot both be 0 (the chain would never mix)")
        self.p_enter_bad, self.p_leave_bad = p_enter_bad, p_leave_bad
        self.loss_good, self.loss_bad = loss_good, loss_bad
        self._rngs, self._chunk = rngs, chunk
        self._block = np.empty((len(rngs), 0))
        self._pos = 0
        self.bad = self._uniforms() < self.stationary_bad

    @property
    def stationary_bad(self) -> float:
        return self.p_enter_bad / (self.p_enter_bad + self.p_leave_bad)

    def _uniforms(self) -> np.ndarray:
        if self._pos >= self._block.shape[1]:
            self._block = np.stack([g.random(self._chunk) for g in self._rngs]) if self._rngs else np.empty((0, 1))
            self._pos = 0
        u = self._block[:, self._pos]
        self._pos += 1
        return u

    def step(self) -> np.ndarray:
        """Advance every chain one draw; returns [num_clients] extra loss probability."""
        u = self._uniforms()
        self.bad = np.where(self.bad, u >= self.p_leave_bad, u < self.p_enter_bad)
        return self.loss()

    def loss(self) -> np.ndarray:
        """[num_clients] extra loss probability in the current states."""
        return np.where(self.bad, self.loss_bad, self.loss_good)
