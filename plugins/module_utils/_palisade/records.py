# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``record``: the plain value classes of the host side.

What ``dataclasses.dataclass`` generates, for the part the host side uses (``__init__`` from
the annotated class attributes in order, their defaults and ``field(default_factory=...)``,
``__repr__``, ``__eq__``, and with ``frozen=True`` read-only attributes and ``__hash__``),
written out here because ``dataclasses`` is Python 3.7 and the host side also runs on 3.6.

Private to the collection: this API may change at any time.
"""


class FrozenInstanceError(AttributeError):
    """Assigning to or deleting an attribute of a frozen record."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


def field(default_factory):
    """The default of a field is ``default_factory()``, called for each new instance."""
    return _Factory(default_factory)


def record(cls=None, frozen=False):
    """Class decorator: ``@record`` or ``@record(frozen=True)``."""
    if cls is None:
        return lambda cls: _make(cls, frozen)
    return _make(cls, frozen)


def _make(cls, frozen):
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {}
    for name in names:
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
        elif defaults:
            raise TypeError("{0}: field {1!r} without a default follows a field with one".format(cls.__name__, name))
    for name, value in defaults.items():
        if isinstance(value, _Factory):
            delattr(cls, name)

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError("{0}() takes {1} arguments, {2} given".format(cls.__name__, len(names), len(args)))
        for index, name in enumerate(names):
            if index < len(args):
                if name in kwargs:
                    raise TypeError("{0}() got multiple values for argument {1!r}".format(cls.__name__, name))
                value = args[index]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif name in defaults:
                value = defaults[name]
                if isinstance(value, _Factory):
                    value = value.make()
            else:
                raise TypeError("{0}() missing argument {1!r}".format(cls.__name__, name))
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError("{0}() got an unexpected keyword argument {1!r}".format(cls.__name__, sorted(kwargs)[0]))

    def __repr__(self):
        return "{0}({1})".format(type(self).__qualname__, ", ".join("{0}={1!r}".format(name, getattr(self, name)) for name in names))

    def _values(self):
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return _values(self) == _values(other)
        return NotImplemented

    methods = {"__init__": __init__, "__repr__": __repr__, "__eq__": __eq__}
    if frozen:
        def __setattr__(self, name, value):
            raise FrozenInstanceError("cannot assign to field {0!r}".format(name))

        def __delattr__(self, name):
            raise FrozenInstanceError("cannot delete field {0!r}".format(name))

        def __hash__(self):
            return hash(_values(self))

        methods.update(__setattr__=__setattr__, __delattr__=__delattr__, __hash__=__hash__)
    elif "__hash__" not in cls.__dict__:
        methods["__hash__"] = None  # mutable and compared by value: unhashable, as a dataclass
    for name, method in methods.items():
        if name not in cls.__dict__ or name == "__hash__" and cls.__dict__[name] is None:
            if callable(method):
                method.__qualname__ = "{0}.{1}".format(cls.__qualname__, name)
            setattr(cls, name, method)
    cls.__record_fields__ = names
    return cls
