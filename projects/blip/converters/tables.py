"""The declarative machinery every weight converter shares.

A converter is data: per sub-model ("tower") a table of renames, per target
task the towers it takes from the source (``source prefix -> our prefix``),
the source keys it drops (each with the reason), the tensors it derives from
others or initialises afresh, and the towers it copies. :func:`convert` runs
such a table over a state dict: every source key must be mapped or dropped,
every key a tower needs must be present, anything else is an error naming the
keys. Nothing is downloaded and no model is built.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

LINEAR = ('weight', 'bias')
EMBEDDING = ('weight',)

#: ``make(converted, key) -> tensor``: a derived or fresh tensor from the tensors converted so far.
Maker = Callable[[Mapping[str, Tensor], str], Tensor]


@dataclass(frozen=True)
class Rename:
    """One source name and ours, relative to the tower prefixes.

    Args:
        source: Source name; ``{i}`` stands for a layer index.
        ours: Our name, or several: the tensor then becomes each of them (BLIP's
            NLVR2 model starts both image branches of a cross-attention from
            the one of a pre-trained model). ``{i}`` as in ``source``.
        params: Parameter names under the module (the names end with a dot),
            or ``()`` when the name is the tensor itself.
        optional: Some exports leave the key out; the task derives it then.
        first_layer: ``{i}`` runs from this layer on (layers below lack it).
    """

    source: str
    ours: str | tuple[str, ...]
    params: tuple[str, ...] = LINEAR
    optional: bool = False
    first_layer: int = 0

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.ours,) if isinstance(self.ours, str) else self.ours


@dataclass(frozen=True)
class Fresh:
    """Our tensors that have no source: initialised as the source's own code
    initialises them when it fine-tunes (e.g. NLVR2's merge layers from a
    pre-trained model).

    Args:
        ours: Our name (a module when ``params`` is given); ``{i}`` a layer index.
        params: Parameter names under the module.
        make: ``(converted, key) -> tensor``.
        reason: Why there is no source tensor.
        first_layer: ``{i}`` runs from this layer on.
    """

    ours: str
    make: Maker
    reason: str
    params: tuple[str, ...] = LINEAR
    first_layer: int = 0


def same(*names: str, params: tuple[str, ...] = LINEAR) -> tuple[Rename, ...]:
    """Renames that keep each name."""
    return tuple(Rename(name, name, params) for name in names)


@dataclass(frozen=True)
class Tower:
    """The renames of one sub-model.

    Args:
        renames: The table of renames (and fresh tensors).
        layers: Source name of the layer list (e.g. ``'encoder.layers.'``);
            the layer indices found under it fill ``{i}``.
        token_tensors: Our names of tensors stored as a token sequence
            ``(1, N, C)``; some sources store them as ``(C,)`` or ``(N, C)``.
    """

    renames: tuple[Rename | Fresh, ...]
    layers: str = ''
    token_tensors: tuple[str, ...] = ()

    def expand(
        self, source_prefix: str, our_prefix: str, source_keys: set[str]
    ) -> tuple[list[tuple[str, tuple[str, ...], bool]], list[tuple[str, Fresh]]]:
        """``(source_key, our_keys, optional)`` for every source tensor of the
        tower, and ``(our_key, fresh)`` for every tensor it initialises."""
        num_layers = num_layers_under(source_keys, source_prefix + self.layers) if self.layers else 0
        renames, fresh = [], []
        for entry in self.renames:
            name = entry.source if isinstance(entry, Rename) else entry.ours
            indices = range(entry.first_layer, num_layers) if '{i}' in name else [None]
            for i in indices:
                for param in entry.params or ('',):
                    if isinstance(entry, Fresh):
                        fresh.append((our_prefix + entry.ours.format(i=i) + param, entry))
                        continue
                    ours = tuple(our_prefix + target.format(i=i) + param for target in entry.targets)
                    renames.append((source_prefix + entry.source.format(i=i) + param, ours, entry.optional))
        return renames, fresh


def num_layers_under(keys: set[str], layers_prefix: str) -> int:
    """Number of layers ``layers_prefix<i>.`` (one more than the largest index)."""
    indices = {key[len(layers_prefix) :].split('.', 1)[0] for key in keys if key.startswith(layers_prefix)}
    # A gap in the indices shows up as the missing keys of the absent layers.
    return max((int(i) for i in indices if i.isdigit()), default=-1) + 1


@dataclass(frozen=True)
class Derived:
    """One of our tensors computed from other converted tensors.

    When the source carries it too, the two must be equal: our model ties
    them, so a different value could not be represented.
    """

    key: str
    make: Maker
    reason: str


def copy_of(source: str) -> Maker:
    return lambda converted, key: converted[source]


def position_ids(position_embeddings: str) -> Maker:
    return lambda converted, key: torch.arange(converted[position_embeddings].shape[0])[None]


def constant(make: Callable[[], Tensor]) -> Maker:
    return lambda converted, key: make()


@dataclass(frozen=True)
class Conversion:
    """How a state dict of one source model becomes the state dict of one of ours.

    Args:
        source: The source model, as messages name it.
        towers: ``(source_prefix, our_prefix, tower)`` for each sub-model.
        dropped: Source keys (exact, or a prefix ending with ``.``) with no
            counterpart in our model, each with the reason it is safe to drop.
        derived: Our tensors the source leaves out or stores as a tie.
        copies: ``(source_prefix, copy_prefix)``: our tensors under
            ``copy_prefix`` start as those under ``source_prefix`` (momentum
            encoders a source does not keep).
    """

    source: str
    towers: tuple[tuple[str, str, Tower], ...]
    dropped: Mapping[str, str] = field(default_factory=dict)
    derived: tuple[Derived, ...] = ()
    copies: tuple[tuple[str, str], ...] = ()

    def drop_reason(self, key: str) -> str | None:
        """Why ``key`` is dropped, or None when it is not."""
        for dropped, reason in self.dropped.items():
            if key == dropped or (dropped.endswith('.') and key.startswith(dropped)):
                return reason
        return None


@dataclass
class Plan:
    """What a conversion does with each key, before any tensor is touched."""

    names: dict[str, tuple[str, ...]]  # source key -> our keys
    fresh: list[tuple[str, Fresh]]
    unknown: list[str]
    missing: list[str]

    def fate(self, conversion: Conversion, key: str) -> str:
        """``'-> our.key'`` or ``'dropped: reason'`` for a source key."""
        if key in self.names:
            return '-> ' + ', '.join(self.names[key])
        reason = conversion.drop_reason(key)
        return f'dropped: {reason}' if reason else 'unknown'


def plan(conversion: Conversion, state_dict: Mapping[str, Tensor]) -> Plan:
    """Map every key of ``state_dict`` by ``conversion``; no tensor is read."""
    source_keys = set(state_dict)
    names: dict[str, tuple[str, ...]] = {}
    fresh: list[tuple[str, Fresh]] = []
    required: set[str] = set()
    for source_prefix, our_prefix, tower in conversion.towers:
        renames, tower_fresh = tower.expand(source_prefix, our_prefix, source_keys)
        fresh += tower_fresh
        for source_key, our_keys, optional in renames:
            names[source_key] = our_keys
            if not optional:
                required.add(source_key)
    unknown = sorted(k for k in source_keys - set(names) if conversion.drop_reason(k) is None)
    missing = sorted(required - source_keys)
    return Plan(names, fresh, unknown, missing)


def apply(conversion: Conversion, state_dict: Mapping[str, Tensor], mapping: Plan) -> dict[str, Tensor]:
    """Our state dict from ``state_dict`` by a complete ``mapping`` (no unknown or missing keys).

    Tensors are shared, not copied; the fresh ones are drawn from torch's
    global random generator.

    Raises:
        ValueError: The source stores a tied tensor that differs from its source.
    """
    converted = {}
    for key, tensor in state_dict.items():
        for ours in mapping.names.get(key, ()):
            converted[ours] = tensor
    for _, our_prefix, tower in conversion.towers:
        for name in tower.token_tensors:
            tensor = converted[our_prefix + name]
            converted[our_prefix + name] = tensor.reshape(1, -1, tensor.shape[-1])
    for key, fresh in mapping.fresh:
        converted[key] = fresh.make(converted, key)
    for derived in conversion.derived:
        value = derived.make(converted, derived.key)
        given = converted.get(derived.key)
        # Tensors without data (the meta device: key manifests) are checked by shape.
        if given is not None and (
            given.shape != value.shape
            or (not given.is_meta and not torch.equal(given, value.to(given.device, given.dtype)))
        ):
            raise ValueError(
                f'{derived.key}: the {conversion.source} tensor differs from the value our model '
                f'needs ({derived.reason})'
            )
        converted[derived.key] = value
    for source, copy in conversion.copies:
        converted.update(
            {copy + key[len(source) :]: converted[key] for key in list(converted) if key.startswith(source)}
        )
    return converted


def source_names(conversion: Conversion, keys: list[str]) -> dict[str, str]:
    """The conversion read backwards: our key -> the source key that
    ``conversion`` renames into it, for each of ``keys`` it renames (derived,
    fresh and copied tensors have no source key and are left out)."""
    patterns = []
    for source_prefix, our_prefix, tower in conversion.towers:
        for entry in tower.renames:
            if not isinstance(entry, Rename):
                continue
            for target in entry.targets:
                for param in entry.params or ('',):
                    pattern = re.escape(our_prefix + target + param).replace(r'\{i\}', r'(?P<i>\d+)')
                    patterns.append((re.compile(pattern + '$'), source_prefix + entry.source + param))
    names = {}
    for key in keys:
        for pattern, source in patterns:
            match = pattern.match(key)
            if match:
                names[key] = source.format(**match.groupdict())
                break
    return names


def listing(title: str, keys: list[str], limit: int = 30) -> str:
    more = f', ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return f'  {len(keys)} {title}: ' + ', '.join(keys[:limit]) + more
