# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the policy engine.

Private to the collection: the engine's API may change at any time.

Every problem the engine finds in user input is a ``Problem`` that names where it is (the
variable or document it came from, and the field path inside it) and what was expected. The
loaders collect problems instead of raising at the first one, so that a run reports every
mistake at once; ``ValidationError`` carries the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class PalisadeError(Exception):
    """Base class of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One mistake in user input.

    ``source`` names the variable (with list index) or the manifest document, ``path`` is the
    field path inside it (empty for the whole entry), ``message`` says what is wrong.
    """

    source: str
    path: str
    message: str

    def __str__(self) -> str:
        if self.path:
            return f"{self.source}: {self.path}: {self.message}"
        return f"{self.source}: {self.message}"


class ValidationError(PalisadeError):
    """Raised with every problem found in one run, so users fix them all in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems in the firewall configuration:"]
        lines.extend(f"- {problem}" for problem in self.problems)
        return "\n".join(lines)


@dataclass
class Problems:
    """Collects problems found while loading; ``raise_if_any`` ends the run with all of them."""

    items: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def add(self, source: str, path: str, message: str) -> None:
        self.items.append(Problem(source, path, message))

    def warn(self, source: str, path: str, message: str) -> None:
        """Something legal but probably not what the user meant; reported, never fatal."""
        self.warnings.append(Problem(source, path, message))

    def extend(self, problems: list[Problem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


@dataclass(frozen=True)
class Where:
    """A position in user input: the source plus a field path, and the sink for problems.

    Loaders pass a ``Where`` down as they descend into nested fields, so that an error deep in
    a rule still says ``palisade_policies[3] (web): ingress[0].source.nets[2]: ...``.
    """

    source: str
    problems: Problems
    path: str = ""

    def at(self, *parts: str | int) -> Where:
        path = self.path
        for part in parts:
            if isinstance(part, int):
                path = f"{path}[{part}]"
            elif path:
                path = f"{path}.{part}"
            else:
                path = part
        return Where(self.source, self.problems, path)

    def error(self, message: str) -> None:
        self.problems.add(self.source, self.path, message)

    def error_count(self) -> int:
        """How many errors have been reported so far (anywhere): loaders compare the count
        before and after loading a part, to skip cross-checks on a part already found wrong
        instead of piling a second, derived message on the first."""
        return len(self.problems.items)

    def warn(self, message: str) -> None:
        self.problems.warn(self.source, self.path, message)
