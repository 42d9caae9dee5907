"""Join paths along relationships: the shortest tree from a root model to the models a question
needs, preferring to-one steps (no fan-out) when paths are equally short."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from sqlgate.nl.semantic import Join, SemanticIndex

# A to-many step costs a little more, so among equally short paths the one without fan-out wins.
_TO_ONE, _TO_MANY = 10, 11


@dataclass(frozen=True)
class JoinPlan:
    root: str
    steps: tuple[Join, ...]  # in order; each step's ``left`` is already joined

    @property
    def fans_out(self) -> bool:
        """Whether rows of the root may repeat (some step is one-to-many)."""
        return any(not step.to_one for step in self.steps)

    @property
    def models(self) -> list[str]:
        return [self.root, *(s.right for s in self.steps)]


def distances(
    index: SemanticIndex, root: str, ties: set[str] | None = None
) -> dict[str, tuple[int, Join | None]]:
    """Cost and last step of the cheapest path from ``root`` to every reachable model; the
    models reached as cheaply from two other models are added to ``ties``."""
    start = root.lower()
    tied: set[str] = set() if ties is None else ties
    best: dict[str, tuple[int, Join | None]] = {start: (0, None)}
    queue: list[tuple[int, int, str]] = [(0, 0, start)]
    counter = 1
    while queue:
        cost, _, node = heapq.heappop(queue)
        if cost > best[node][0]:
            continue
        for join in index.joins.get(node, ()):
            target = join.right.lower()
            if target == node:
                continue  # self-references (manager of an employee) never join implicitly
            # down after up (two rows sharing a parent) costs a little more than up after down
            # (the row both refer to): patients relate to doctors by appointments before wards
            came = best[node][1]
            shared = not join.to_one and came is not None and came.to_one
            step = cost + (_TO_ONE if join.to_one else _TO_MANY + shared)
            if target not in best or step < best[target][0]:
                best[target] = (step, join)
                heapq.heappush(queue, (step, counter, target))
                counter += 1
                tied.discard(target)
            elif step == best[target][0] and (best[target][1] or join).left.lower() != node:
                tied.add(target)  # goals to teams through their matches or their players
    return best


def plan_joins(index: SemanticIndex, root: str, targets: Iterable[str]) -> JoinPlan | None:
    """The join tree from ``root`` reaching every model in ``targets``; None if one is
    unreachable, or reached as cheaply in two ways (which one the question means is not
    known)."""
    ties: set[str] = set()
    best = distances(index, root, ties)
    needed: list[Join] = []
    seen = {root.lower()}
    for target in targets:
        node = target.lower()
        if node not in best:
            return None
        path: list[Join] = []
        while node not in seen:
            if node in ties:
                return None
            _, join = best[node]
            assert join is not None
            path.append(join)
            seen.add(node)
            node = join.left.lower()
        needed.extend(reversed(path))
    model = index.get_model(root)
    return JoinPlan(model.name if model else root, tuple(needed))


def hops(index: SemanticIndex, root: str) -> dict[str, int]:
    """Cost of reaching each model from ``root`` (lower-case names)."""
    return {name: cost for name, (cost, _) in distances(index, root).items()}
