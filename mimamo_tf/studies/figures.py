"""The studies' PNG figures (matplotlib's object API: no pyplot, no display, no global backend)."""

import numpy as np
from matplotlib.figure import Figure

from mimamo_tf.atomic_files import replacing


def _subplots(*grid, figsize, **options):
    """``(figure, axes)`` as ``pyplot.subplots`` gives them, on a figure no global state holds."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **options)


def _save(fig, path):
    with replacing(path) as temporary:
        fig.savefig(temporary, dpi=120, bbox_inches="tight", format="png")
    return path


def streams_figure(rows, path, title):
    """Grouped bars: arousal and valence CCC per cell, ours next to the paper's (Aff-Wild, OMG).

    Args:
        rows: dicts with ``label``, ``arousal``, ``valence``, ``paper_affwild``, ``paper_omg``
            ((arousal, valence) or None).
    """
    fig, axes = _subplots(1, 2, figsize=(12, 4.2), sharey=True)
    x = np.arange(len(rows))
    width = 0.27
    for axis, (index, name) in zip(axes, enumerate(("arousal", "valence"))):
        ours = [r[name] for r in rows]
        affwild = [r["paper_affwild"][index] if r["paper_affwild"] else np.nan for r in rows]
        omg = [r["paper_omg"][index] if r["paper_omg"] else np.nan for r in rows]
        axis.bar(x - width, ours, width, label="this run (synthetic data)", color="tab:blue")
        axis.bar(x, affwild, width, label="paper, Aff-Wild (Table 5)", color="tab:gray")
        axis.bar(x + width, omg, width, label="paper, OMG (Table 4)", color="silver")
        axis.set_xticks(x)
        axis.set_xticklabels([r["label"] for r in rows], rotation=30, ha="right", fontsize=8)
        axis.set_title(f"{name} CCC")
        axis.axhline(0, color="black", linewidth=0.5)
        axis.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("CCC")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def length_figure(lengths, ours, spread, paper, path, title):
    """CCC against snippet length L: ours (mean over folds, min-max over folds as error bars), the paper's.

    Args:
        lengths: the L values.
        ours: {"arousal": [...], "valence": [...]} means per L.
        spread: {"arousal": [(min, max), ...], ...} over folds.
        paper: {L: (arousal, valence)} (Table 3), may miss some L.
    """
    fig, axis = _subplots(figsize=(6.5, 4.2))
    for index, (name, color) in enumerate((("arousal", "tab:red"), ("valence", "tab:blue"))):
        mean = np.asarray(ours[name], float)
        low = mean - np.asarray([s[0] for s in spread[name]], float)
        high = np.asarray([s[1] for s in spread[name]], float) - mean
        axis.errorbar(lengths, mean, yerr=[low, high], marker="o", color=color, capsize=3,
                      label=f"{name}, this run (synthetic; mean, min-max over folds)")
        known = [L for L in lengths if L in paper]
        axis.plot(known, [paper[L][index] for L in known], marker="s", linestyle="--", color=color, alpha=0.5,
                  label=f"{name}, paper (OMG, Table 3)")
    axis.set_xticks(list(lengths))
    axis.set_xlabel("phase-difference images per snippet (L)")
    axis.set_ylabel("CCC")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    axis.set_title(title)
    return _save(fig, path)


# One (colour, marker) per temporal input, in the order the series come.
_LINE_STYLES = (("tab:green", "o"), ("tab:orange", "s"), ("tab:purple", "^"))


def _ccc_lines(axis, series, x, name):
    """Draws ``name`` ("arousal" or "valence") CCC of each series against its ``x`` values."""
    for index, (label, values) in enumerate(series.items()):
        color, marker = _LINE_STYLES[index % len(_LINE_STYLES)]
        axis.plot(values[x], values[name], marker=marker, color=color, label=label)
    axis.grid(alpha=0.3)


def illumination_figure(series, path, title):
    """CCC against beta (per-frame gamma corruption), one line per temporal input, arousal and valence.

    Args:
        series: {label: {"betas": [...], "arousal": [...], "valence": [...]}}.
    """
    fig, axes = _subplots(1, 2, figsize=(11, 4), sharex=True, sharey=True)
    for axis, name in zip(axes, ("arousal", "valence")):
        _ccc_lines(axis, series, "betas", name)
        axis.set_xlabel("beta (gamma ~ U[1 - beta, 1 + beta] per frame)")
        axis.set_ylabel(f"{name} CCC")
        axis.set_title(name)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def sensitivity_figure(series, amplitudes, path, title):
    """Arousal CCC against the micro-motion's amplitude, one line per temporal input.

    Args:
        series: {label: {"motion_scales": [...], "arousal": [...]}}.
        amplitudes: {motion scale: its amplitude in px, e.g. "0.3-2.1 px"}, printed under each tick.
    """
    fig, axis = _subplots(figsize=(7, 4.2))
    _ccc_lines(axis, series, "motion_scales", "arousal")
    scales = sorted(amplitudes)
    positive = [s for s in scales if s > 0]
    if positive and scales[0] > 0:
        # The grid is geometric (0.0625, 0.25, 1, 2): equal steps on a log axis.
        axis.set_xscale("log", base=2)
    elif positive:
        # A scale of 0 (no micro-motion, the control) sits at 0, linear up to the smallest positive
        # scale and logarithmic above it.
        axis.set_xscale("symlog", base=2, linthresh=positive[0], linscale=0.5)
    axis.set_xticks(scales)
    axis.set_xticklabels([f"{s:g}x\n{amplitudes[s]}" for s in scales], fontsize=8)
    axis.minorticks_off()
    axis.axhline(0, color="black", linewidth=0.5)
    axis.set_xlabel("micro-motion amplitude: factor of the default (px at arousal -1 to +1)")
    axis.set_ylabel("arousal CCC (official, as evaluate computes it)")
    axis.legend(fontsize=8)
    axis.set_title(title)
    return _save(fig, path)


def speed_figure(rows, path, title):
    """Bars of milliseconds per frame (log scale), grouped by frame size.

    Args:
        rows: dicts with ``method``, ``size``, ``ms_per_frame``.
    """
    sizes = sorted({r["size"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axis = _subplots(figsize=(7, 4))
    width = 0.8 / len(methods)
    x = np.arange(len(sizes))
    for index, method in enumerate(methods):
        values = [next((r["ms_per_frame"] for r in rows if r["method"] == method and r["size"] == s), np.nan)
                  for s in sizes]
        bars = axis.bar(x + (index - (len(methods) - 1) / 2) * width, values, width, label=method)
        for bar, value in zip(bars, values):
            if np.isfinite(value):
                axis.annotate(f"{value:.2g}", (bar.get_x() + bar.get_width() / 2, value), ha="center",
                              va="bottom", fontsize=7)
    axis.set_yscale("log")
    axis.set_xticks(x)
    axis.set_xticklabels([f"{s}x{s}" for s in sizes])
    axis.set_ylabel("ms per frame (log scale)")
    axis.grid(axis="y", alpha=0.3, which="both")
    axis.legend(fontsize=8)
    axis.set_title(title)
    return _save(fig, path)
