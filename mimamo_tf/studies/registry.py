"""The studies ``python -m mimamo_tf.study --study=NAME`` runs: one registry, filled by the study modules.

A study is one module: a function taking a ``StudyRequest`` and returning the study's result dict
(with ``table``, ``table_file`` and ``figure``), registered with ``@register_study``. The decorator
carries everything the command needs to know of it: its name and help, its own flags, whether it
reads prepared data, which training procedures it accepts. ``mimamo_tf/studies/__init__.py``
imports the built-in study modules so that they register; a study defined elsewhere registers the
same way and is then runnable by the command like any other.

Example:

```python
from mimamo_tf.studies.registry import register_study

@register_study("flicker", help="arousal CCC under a flicker", define_flags=define_flickers)
def flicker_study(request):
    ...  # request.config, request.output_dir, request.flags.flickers, request.log
    return {"table": ..., "table_file": ..., "figure": ...}
```
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple, Union

from mimamo_tf import config as config_lib
from mimamo_tf.studies.presets import Preset

# Every net a study trains is trained one of these ways (``--training``); see ``mimamo_tf.studies.streams``.
TRAININGS = ("paper", "recipe", "scratch")
SHARD_DATA = "a directory of shards written by data_prep.prepare"


@dataclasses.dataclass(frozen=True)
class StudyRequest:
    """What the command hands a study.

    Attributes:
        config: the base ``ExperimentConfig`` of its trainings (``None`` for a study that reads no data).
        output_dir: where the study writes ``<name>.md``, ``<name>.png``, ``<name>.json`` and ``runs/``.
        preset: the study sizes (``studies.presets``).
        flags: the parsed command line, for the study's own flags.
        explicit_flags: the training flags given on the command line itself (not by a flagfile).
        checkpoint: which checkpoint of each trained cell is evaluated (``best`` or ``last``).
        training: the procedure (a name), or procedures (a tuple) for a study that takes several;
            ``None`` for a study that trains nothing.
        verbose: print the trainer's per-epoch lines.
        log: prints one line of the study's progress.
    """

    config: Optional[config_lib.ExperimentConfig]
    output_dir: str
    preset: Preset
    flags: Any
    explicit_flags: Tuple[str, ...] = ()
    checkpoint: str = "best"
    training: Union[str, Tuple[str, ...], None] = "paper"
    verbose: bool = True
    log: Callable[[str], None] = print


@dataclasses.dataclass(frozen=True)
class Study:
    """A registered study (see ``register_study`` for the fields)."""

    name: str
    run: Callable[[StudyRequest], dict]
    help: str
    define_flags: Optional[Callable] = None
    data: Optional[str] = SHARD_DATA
    trainings: Tuple[str, ...] = ("paper", "scratch")
    default_training: Tuple[str, ...] = ("paper",)
    several_trainings: bool = False
    labelled_data_dir: Optional[Callable] = None

    def parse_training(self, values):
        """``--training`` (``values``, a list or None) for this study: a tuple in ``TRAININGS`` order
        when it takes several, else one name; ``None`` for a study that trains nothing.
        ``ConfigError`` names the allowed values."""
        if not self.trainings:
            return None
        names = tuple(values or self.default_training)
        allowed = ", ".join(self.trainings)
        if self.several_trainings:
            if not names or any(name not in self.trainings for name in names):
                raise config_lib.ConfigError(f"--training must be among {allowed}; got {', '.join(names)}")
            return tuple(name for name in TRAININGS if name in names)
        if len(names) != 1 or names[0] not in self.trainings:
            raise config_lib.ConfigError(f"--training for --study={self.name} must be one of {allowed}; "
                                         f"got {','.join(names)}")
        return names[0]


_STUDIES = {}


def register_study(name, *, help, define_flags=None, data=SHARD_DATA, trainings=("paper", "scratch"),
                   default_training=("paper",), several_trainings=False, labelled_data_dir=None):
    """Registers the decorated function as the study ``name`` (``--study=name``).

    Args:
        name: the ``--study`` value.
        help: one line for ``--study``'s help.
        define_flags: ``define_flags(flag_values)`` defining the study's own flags (absl), or None.
        data: what ``--data_dir`` must be, for its error message; None: the study reads no data
            (the request's ``config`` is then None).
        trainings: the ``--training`` values it accepts, among ``TRAININGS``; () when it trains nothing.
        default_training: ``--training`` when not given.
        several_trainings: it takes several procedures at once (one row per net and procedure).
        labelled_data_dir: ``labelled_data_dir(data_dir, flags, preset)``: the directory whose labels
            tell frame- from utterance-level data, when it is not ``--data_dir`` itself.

    Returns:
        The decorator; it returns the function unchanged.
    """
    def decorate(run):
        if name in _STUDIES:
            raise ValueError(f"a study named {name!r} is already registered ({_STUDIES[name].run.__module__})")
        _STUDIES[name] = Study(name, run, help, define_flags, data, tuple(trainings), tuple(default_training),
                               several_trainings, labelled_data_dir)
        return run

    return decorate


def unregister_study(name):
    """Removes the study ``name`` (a test's own study, after the test)."""
    _STUDIES.pop(name, None)


def study_names():
    """The registered studies' names, in registration order."""
    return tuple(_STUDIES)


def get_study(name):
    """The ``Study`` registered as ``name``; ``ConfigError`` listing the registered names otherwise."""
    if name not in _STUDIES:
        raise config_lib.ConfigError(f"--study must be one of {', '.join(_STUDIES)}; got {name!r}")
    return _STUDIES[name]


def define_study_flags(flag_values):
    """Defines every registered study's own flags on ``flag_values``."""
    for study in _STUDIES.values():
        if study.define_flags is not None:
            study.define_flags(flag_values)


def parse_numbers(values, kind, flag):
    """A list flag's values as a tuple of ``kind``; ``ConfigError`` naming ``--flag`` otherwise."""
    try:
        return tuple(kind(v) for v in values)
    except ValueError as error:
        raise config_lib.ConfigError(f"--{flag} must be a list of numbers; got {','.join(values)}") from error


def parse_temporal_inputs(values, default):
    """``--temporal_inputs`` (``default`` when not given) as a tuple; ``ConfigError`` unless each is a
    distinct one of ``config.TEMPORAL_INPUTS``."""
    inputs = tuple(values or default)
    unknown = [t for t in inputs if t not in config_lib.TEMPORAL_INPUTS]
    if unknown or len(set(inputs)) != len(inputs):
        raise config_lib.ConfigError(f"--temporal_inputs must be distinct ones of "
                                     f"{', '.join(config_lib.TEMPORAL_INPUTS)}; got {', '.join(inputs)}")
    return inputs
