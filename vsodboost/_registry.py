"""One registry class for targets, flow backends, spatial models, encoders and Θs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import DuplicateNameError, InputError, UnknownNameError
from ._decode import natural_key

T = TypeVar("T")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_DASHED_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component: its name, the factory that builds it and the plugin that provided it."""

    name: str
    factory: Callable[..., T]
    plugin: str
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name → factory table for one kind of component (``"target"``, ``"flow"``, ``"spatial"``, ...).

    Names are lower-case identifiers; ``dashes=True`` also allows inner '-' (Θ names such as
    ``"border-contrast"`` predate the registry and are spelled that way in CLI flags, docs and checkpoints).
    Registering a name twice raises :class:`DuplicateNameError`; an unknown name raises :class:`UnknownNameError`
    listing the available names.

    Example:
        >>> reg = Registry("flow")
        >>> reg.register("zero", lambda: "model", plugin="docs")
        >>> reg.create("zero")
        'model'
    """

    def __init__(self, kind: str, *, dashes: bool = False) -> None:
        self.kind = kind
        self._name_re = _DASHED_NAME_RE if dashes else _NAME_RE
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        plugin: str = "user",
        description: str = "",
        **meta: Any,
    ) -> None:
        if not isinstance(name, str) or not self._name_re.match(name):
            seps = "'_' or an inner '-'" if self._name_re is _DASHED_NAME_RE else "'_'"
            raise InputError(
                f"{self.kind} name {name!r} is not valid: use lower-case letters, digits and {seps}, "
                "starting with a letter (e.g. 'my_model')"
            )
        if not callable(factory):
            raise InputError(f"{self.kind} {name!r}: factory must be callable, got {type(factory).__name__}")
        if name in self._entries:
            prev = self._entries[name].plugin
            raise DuplicateNameError(
                f"{self.kind} {name!r} is already registered by plugin {prev!r}; "
                f"plugin {plugin!r} cannot register it again (pick another name)"
            )
        self._entries[name] = Entry(name, factory, plugin, description, dict(meta))

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            available = ", ".join(self.names()) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; available: {available}. "
                "Install or enable the plugin that provides it (see `vsodboost plugins`)."
            ) from None

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> T:
        """Build the component registered as ``name`` with the factory's own arguments, positional ones
        included; keyword arguments set to None are dropped."""
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return self.get(name).factory(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries, key=natural_key)

    def list(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def unregister(self, name: str) -> None:
        self.get(name)
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
