"""What became of one client's part in one round: the ``outcome`` column of clients.csv.

Codes are stored in the per-client int8 arrays of a run; ``label`` is the
text written to the records (and the reason handed to ``aggregate`` beside
the delivered payloads).  Append only: a code, once written, keeps its meaning.
"""

from __future__ import annotations

import enum

__all__ = ["Outcome", "OUTCOMES"]


class Outcome(enum.IntEnum):
    DELIVERED = 0  # the upload arrived before the deadline
    DEADLINE = 1  # still downloading, computing or uploading when the round closed
    ARQ_FAILURE = 2  # a packet of the upload exhausted its ARQ attempts
    DOWNLINK_FAILURE = 3  # the model download failed (ARQ), so nothing was computed
    SKIPPED = 4  # the algorithm chose not to upload (e.g. the budget could not carry its smallest message)
    OFFLINE = 5  # the client became unavailable during the round
    STALE = 6  # async: the update was older than round.max_staleness allows

    @property
    def label(self) -> str:
        """The text in clients.csv: the member's name in lower case."""
        return self.name.lower()


# Every outcome's text, indexed by code.
OUTCOMES: tuple[str, ...] = tuple(o.label for o in Outcome)
