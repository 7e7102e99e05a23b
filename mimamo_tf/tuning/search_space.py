"""The hyperparameter search space: its one declaration, its narrowing from the command line, and
its form for keras-tuner and TensorBoard.

``SEARCH_SPACE`` below is the whole default space. Every entry is an ``ExperimentConfig`` field,
named by its flag; a trial's configuration is the base configuration with the trial's values put
in (``apply``), so a trial is an ordinary training run and the best one is an ordinary flagfile.

Narrowing (``--search_space``, comma-separated or repeated entries ``NAME=SPEC``):

* ``a|b|c``  these values only (any legal values, not only the declared ones);
* ``lo:hi``  a continuous hyperparameter sampled in ``[lo, hi]`` (on a log scale where declared);
  a discrete one keeps its declared values that lie in ``[lo, hi]``;
* ``a``      fixed to this value.

``--hyperparameters`` picks which entries are searched (default: every entry that matters for the
base configuration); the others keep the base configuration's value.

Of the dropout rates only the BiGRU's (``gru_dropout``) is declared; the fusion and head rates
(``--fusion_dropout``, ``--head_dropout``) are configuration fields but not searched.

This module is pure Python (keras-tuner and TensorBoard are imported inside the converters).
"""

import dataclasses
import math
from typing import Callable, Optional, Tuple

import keras_tuner
from tensorboard.plugins.hparams import api as hparams_api

from mimamo_tf import config as config_lib
from mimamo_tf.config import ConfigError


@dataclasses.dataclass(frozen=True)
class Declared:
    """One searchable configuration field.

    Attributes:
        name: the flag (and ``ExperimentConfig`` field) it sets.
        section: the config section holding the field.
        kind: ``"choice"`` (discrete values) or ``"float"`` (a continuous range).
        values: the declared values of a ``"choice"``.
        low, high, log: the declared range of a ``"float"`` and whether it is sampled on a log scale.
        legal, legal_text: which values can work at all, and how to say so in an error.
        relevant: whether the field matters for a base configuration (``snippet_length`` does not
            without a phase temporal stream; the GRU fields do not without ``--recurrent``).
        help: what it is, for ``--help``.
    """

    name: str
    section: str
    kind: str
    values: Tuple = ()
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    legal: Callable = lambda value: True
    legal_text: str = ""
    relevant: Callable = lambda config: True
    help: str = ""


def _uses_snippets(config):
    return config.model.uses_temporal and config.model.temporal_input != "optical_flow"


def _recurrent(config):
    return config.model.recurrent


# The default search space: this tuple is the whole declaration.
SEARCH_SPACE = (
    Declared("snippet_length", "model", "choice", values=(4, 8, 12, 16),
             legal=lambda v: v >= 2 and v % 2 == 0, legal_text="even and >= 2", relevant=_uses_snippets,
             help="phase differences per snippet (the paper's Table 3 compares 4, 8, 12, 16)"),
    Declared("learning_rate", "optimization", "float", low=1e-4, high=1e-1, log=True,
             legal=lambda v: v > 0, legal_text="> 0", help="initial SGD learning rate"),
    Declared("gru_dropout", "model", "float", low=0.0, high=0.5,
             legal=lambda v: 0 <= v < 1, legal_text="in [0, 1)", relevant=_recurrent,
             help="dropout of the BiGRU layers (the fusion and head dropout, 0.5, are not config fields)"),
    Declared("gru_units", "model", "choice", values=(64, 128, 256),
             legal=lambda v: v >= 1, legal_text=">= 1", relevant=_recurrent, help="GRU units per direction"),
    Declared("gru_layers", "model", "choice", values=(1, 2, 3),
             legal=lambda v: v >= 1, legal_text=">= 1", relevant=_recurrent, help="stacked BiGRU layers"),
    Declared("batch_size", "data", "choice", values=(4, 8, 16),
             legal=lambda v: v >= 1, legal_text=">= 1", help="global batch size in windows"),
    Declared("window", "data", "choice", values=(32, 64, 96),
             legal=lambda v: v >= 1, legal_text=">= 1", help="frames per window (--stride stays the base value)"),
)
NAMES = tuple(d.name for d in SEARCH_SPACE)
_DECLARED = {d.name: d for d in SEARCH_SPACE}


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One searched hyperparameter after narrowing: a choice, a range, or a fixed value."""

    name: str
    section: str
    value_type: type
    values: Tuple = ()  # a choice (a fixed value is a one-value choice)
    low: Optional[float] = None  # a range
    high: Optional[float] = None
    log: bool = False

    @property
    def is_range(self):
        return self.low is not None

    def to_json(self):
        if self.is_range:
            return {"name": self.name, "range": [self.low, self.high], "log": self.log}
        return {"name": self.name, "values": list(self.values)}

    def describe(self):
        if self.is_range:
            return f"{self.name} in [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.log else "")
        if len(self.values) == 1:
            return f"{self.name} = {self.values[0]}"
        return f"{self.name} in {{{', '.join(str(v) for v in self.values)}}}"


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters a search varies, in declaration order."""

    hyperparameters: Tuple[Hyperparameter, ...]

    @property
    def names(self):
        return tuple(h.name for h in self.hyperparameters)

    def to_json(self):
        return [h.to_json() for h in self.hyperparameters]

    def describe(self):
        return "; ".join(h.describe() for h in self.hyperparameters)

    def apply(self, config, values):
        """``config`` with the hyperparameter values (``{name: value}``, extra keys ignored) put in."""
        sections = {}
        for h in self.hyperparameters:
            if h.name in values:
                sections.setdefault(h.section, {})[h.name] = h.value_type(values[h.name])
        return config_lib.replace(config, **sections)

    def keras_tuner_hyperparameters(self):
        """The space as ``keras_tuner.HyperParameters``."""
        hps = keras_tuner.HyperParameters()
        for h in self.hyperparameters:
            if h.is_range:
                hps.Float(h.name, h.low, h.high, sampling="log" if h.log else "linear")
            elif len(h.values) == 1:
                hps.Fixed(h.name, h.values[0])
            else:
                hps.Choice(h.name, list(h.values), ordered=all(isinstance(v, (int, float)) for v in h.values))
        return hps

    def tensorboard_hparams(self):
        """``{name: tensorboard.plugins.hparams.api.HParam}`` with each hyperparameter's domain."""
        result = {}
        for h in self.hyperparameters:
            if h.is_range:
                domain = hparams_api.RealInterval(float(h.low), float(h.high))
            else:
                domain = hparams_api.Discrete([h.value_type(v) for v in h.values])
            result[h.name] = hparams_api.HParam(h.name, domain)
        return result


def space_help():
    """The declared space, one line per entry, for ``--help``."""
    lines = []
    for d in SEARCH_SPACE:
        if d.kind == "choice":
            spec = "|".join(str(v) for v in d.values)
        else:
            spec = f"{d.low:g}:{d.high:g}" + (" (log scale)" if d.log else "")
        lines.append(f"{d.name}={spec}: {d.help}")
    return "\n".join(lines)


def _field_type(declared):
    return type(getattr(getattr(config_lib.ExperimentConfig(), declared.section), declared.name))


def _parse_value(declared, text, entry):
    value_type = _field_type(declared)
    try:
        value = value_type(text) if value_type is float else int(text)
    except ValueError:
        kind = "a number" if value_type is float else "an integer"
        raise ConfigError(f"--search_space: {entry!r}: {text!r} is not {kind}") from None
    if value_type is float and not math.isfinite(value):
        raise ConfigError(f"--search_space: {entry!r}: {text!r} is not a finite number")
    if not declared.legal(value):
        raise ConfigError(f"--search_space: {entry!r}: {declared.name} must be {declared.legal_text}, got {text}")
    return value


def _unknown(name, flag):
    return ConfigError(f"{flag}: unknown hyperparameter {name!r}; the searchable ones are: {', '.join(NAMES)}")


def _narrow(declared, spec, entry):
    """The ``Hyperparameter`` a ``--search_space`` entry ``NAME=SPEC`` makes of a declared one."""
    value_type = _field_type(declared)
    if ":" in spec:
        low_text, _, high_text = spec.partition(":")
        low, high = _parse_value(declared, low_text, entry), _parse_value(declared, high_text, entry)
        if low > high:
            raise ConfigError(f"--search_space: {entry!r} is an empty range (min {low_text} > max {high_text})")
        if declared.kind == "choice":
            values = tuple(v for v in declared.values if low <= v <= high)
            if not values:
                raise ConfigError(
                    f"--search_space: {entry!r} is empty: none of {declared.name}'s values "
                    f"{'|'.join(str(v) for v in declared.values)} lies in [{low_text}, {high_text}]; "
                    f"list the values instead ({declared.name}=a|b)")
            return Hyperparameter(declared.name, declared.section, value_type, values=values)
        if low == high:
            return Hyperparameter(declared.name, declared.section, value_type, values=(low,))
        if declared.log and low <= 0:
            raise ConfigError(
                f"--search_space: {entry!r}: {declared.name} is sampled on a log scale; its range needs min > 0")
        return Hyperparameter(declared.name, declared.section, value_type, low=low, high=high, log=declared.log)
    texts = [t.strip() for t in spec.split("|")]
    if not any(texts):
        raise ConfigError(
            f"--search_space: {entry!r} is an empty choice; give values as {declared.name}=a|b or a range lo:hi")
    if not all(texts):
        raise ConfigError(f"--search_space: {entry!r} has an empty value in its choice list")
    values = []
    for text in texts:
        value = _parse_value(declared, text, entry)
        if value not in values:
            values.append(value)
    return Hyperparameter(declared.name, declared.section, value_type, values=tuple(values))


def _default(declared):
    value_type = _field_type(declared)
    if declared.kind == "choice":
        return Hyperparameter(declared.name, declared.section, value_type, values=tuple(declared.values))
    return Hyperparameter(declared.name, declared.section, value_type, low=declared.low, high=declared.high,
                          log=declared.log)


def _entries(search_space):
    """``[(entry, name, spec)]`` of the ``--search_space`` values (each may hold several, comma-separated)."""
    if isinstance(search_space, str):
        search_space = [search_space]
    entries = []
    for item in search_space or ():
        for entry in item.split(","):
            entry = entry.strip()
            if not entry:
                continue
            name, equals, spec = entry.partition("=")
            if not equals:
                raise ConfigError(f"--search_space: {entry!r} is not NAME=SPEC (e.g. learning_rate=1e-4:1e-2 or "
                                  "snippet_length=8|12)")
            entries.append((entry, name.strip(), spec.strip()))
    return entries


def build_search_space(base_config, search_space=(), hyperparameters=None):
    """The ``SearchSpace`` of a search: the declared space, chosen and narrowed.

    Args:
        base_config: the ``ExperimentConfig`` the trials start from.
        search_space: ``--search_space`` entries, e.g. ``["learning_rate=1e-4:1e-2,snippet_length=8|12"]``.
        hyperparameters: names to search (``--hyperparameters``); None or empty: every declared one
            that matters for ``base_config``.

    Raises:
        ConfigError: an unknown name, an empty range or choice, an illegal value, a hyperparameter
            that has no effect on the base configuration, or a value the configuration rejects.
    """
    entries = _entries(search_space)
    for entry, name, _ in entries:
        if name not in _DECLARED:
            raise _unknown(name, "--search_space")
    if hyperparameters:
        chosen = []
        for name in hyperparameters:
            name = name.strip()
            if name not in _DECLARED:
                raise _unknown(name, "--hyperparameters")
            if name not in chosen:
                chosen.append(name)
        for entry, name, _ in entries:
            if name not in chosen:
                raise ConfigError(f"--search_space: {entry!r} narrows {name}, which --hyperparameters="
                                  f"{','.join(chosen)} does not search; add it there")
        for name in chosen:
            if not _DECLARED[name].relevant(base_config):
                raise ConfigError(f"--hyperparameters: {name} has no effect with this configuration "
                                  f"(--streams={base_config.model.streams}, --temporal_input="
                                  f"{base_config.model.temporal_input}, --recurrent={base_config.model.recurrent})")
    else:
        named = {name for _, name, _ in entries}
        chosen = [d.name for d in SEARCH_SPACE if d.relevant(base_config) or d.name in named]
        for entry, name, _ in entries:
            if not _DECLARED[name].relevant(base_config):
                raise ConfigError(f"--search_space: {name} has no effect with this configuration "
                                  f"(--streams={base_config.model.streams}, --temporal_input="
                                  f"{base_config.model.temporal_input}, --recurrent={base_config.model.recurrent})")
    narrowed = {}
    for entry, name, spec in entries:
        if name in narrowed:
            raise ConfigError(f"--search_space: {name} is given twice")
        narrowed[name] = _narrow(_DECLARED[name], spec, entry)
    # Declaration order, whatever the order on the command line.
    space = SearchSpace(tuple(narrowed.get(d.name) or _default(d) for d in SEARCH_SPACE if d.name in chosen))
    _check_against_config(base_config, space)
    return space


def _check_against_config(base_config, space):
    """Every value of a choice, and both ends of a range, must make a configuration that validates."""
    for h in space.hyperparameters:
        for value in ((h.low, h.high) if h.is_range else h.values):
            try:
                config_lib.validate(space.apply(base_config, {h.name: value}), require_data=False,
                                    require_model_dir=False)
            except ConfigError as error:
                raise ConfigError(f"--search_space: {h.name}={value}: {error}") from None
