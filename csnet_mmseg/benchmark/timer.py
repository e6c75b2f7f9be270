"""Wall-clock timing of callables: medians over alternating rounds."""
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping

__all__ = ['Timing', 'time_rounds', 'time_callable']

ROUND_STATISTICS = ('median', 'mean')


@dataclass
class Timing:
    """The per-round times of one callable.

    Args:
        rounds (list[float]): One time per round (ms): the median of the
            round's runs, or their mean (see :func:`time_rounds`).
    """

    rounds: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median over the rounds (ms)."""
        return statistics.median(self.rounds)

    @property
    def min(self) -> float:
        """Fastest round (ms)."""
        return min(self.rounds)

    @property
    def max(self) -> float:
        """Slowest round (ms)."""
        return max(self.rounds)

    def ratio(self, other: 'Timing') -> float:
        """Median over the rounds of ``self / other`` in the same round
        (paired: robust to a machine whose load changes between rounds)."""
        return statistics.median(
            a / b for a, b in zip(self.rounds, other.rounds))


def time_rounds(fns: Mapping[str, Callable[[], object]],
                rounds: int = 1,
                runs: int = 10,
                warmup: int = 0,
                per_round: str = 'median',
                alternate: bool = True) -> Dict[str, Timing]:
    """Time several callables in one process, round after round.

    Each callable is first called ``warmup`` times (untimed, in order).
    Then in every round each callable runs ``runs`` times in a row; its
    time of the round is the median of the single runs (``per_round=
    'median'``) or the mean of the block (``'mean'``: one clock reading
    around the ``runs`` calls). With ``alternate`` the order of the
    callables reverses every second round, so that none always runs first.

    Args:
        fns (Mapping[str, Callable[[], object]]): Name -> callable without
            arguments (bind the input with a closure).
        rounds (int): Rounds. Defaults to 1.
        runs (int): Timed calls per callable and round. Defaults to 10.
        warmup (int): Untimed calls per callable before the first round.
            Defaults to 0.
        per_round (str): 'median' or 'mean'. Defaults to 'median'.
        alternate (bool): Reverse the order every second round. Defaults
            to True.

    Returns:
        dict[str, Timing]: Per name, its per-round times (ms), in the order
        of ``fns``.
    """
    if rounds < 1 or runs < 1 or warmup < 0:
        raise ValueError('time_rounds needs rounds >= 1, runs >= 1 and '
                         f'warmup >= 0, got {rounds}, {runs}, {warmup}')
    if per_round not in ROUND_STATISTICS:
        raise ValueError(f'per_round must be one of {ROUND_STATISTICS}, got '
                         f'{per_round!r}')
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    out = {name: Timing() for name in names}
    for r in range(rounds):
        order = names if (r % 2 == 0 or not alternate) else names[::-1]
        for name in order:
            fn = fns[name]
            if per_round == 'mean':
                t0 = time.perf_counter()
                for _ in range(runs):
                    fn()
                out[name].rounds.append(
                    (time.perf_counter() - t0) / runs * 1e3)
                continue
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name].rounds.append(statistics.median(times) * 1e3)
    return out


def time_callable(fn: Callable[[], object], warmup: int,
                  repeats: int) -> float:
    """Median wall time (ms) of ``repeats`` calls of ``fn`` after
    ``warmup`` untimed ones (one round of :func:`time_rounds`)."""
    return time_rounds({'fn': fn}, 1, repeats, warmup)['fn'].median
