"""What the machine computes natively, and the training precision ``--mixed_precision=auto`` picks from it.

bfloat16 halves the memory traffic of the convolutions, and it is fast where the hardware has
bfloat16 arithmetic: x86 CPUs with AVX512_BF16 or AMX-BF16 (Intel Cooper Lake, Sapphire Rapids and
later; AMD Zen 4 and later) and NVIDIA GPUs of compute capability 8.0 or more. Everywhere else
TensorFlow runs bfloat16 on a slow path (Eigen's emulation), and training is many times slower than
in float32 (``BFLOAT16_SLOWDOWN``). So ``auto`` is bfloat16 only where it is native, float32
otherwise.

Reading the hardware (``read_cpu``, ``read_gpus``) is kept apart from deciding (``choose_precision``,
a pure function of a ``CpuInfo``, ``GpuInfo``s and the environment), so the decision is tested on
any kind of machine with the flags of another.

Example:
    >>> choice = choose_precision(read_cpu(), read_gpus())
    >>> choice.precision, choice.reason
    ('float32', 'this CPU has no native bfloat16 (AVX2)')
"""

import dataclasses
import os
import platform
import subprocess
from typing import FrozenSet, Mapping, Optional, Sequence, Tuple

# Measured with the project's venv on a 2-core AMD EPYC with AVX2 and FMA but no AVX-512 (issue 24):
# a 3x3 convolution of 64x48x48x24 -> 64 channels, forward and gradient, took 190 ms in float32 and
# 2,978 ms in bfloat16 (matmuls were even). The same shape with oneDNN off on an AVX512_BF16 CPU
# (TensorFlow's Eigen path, which a CPU without native bfloat16 takes): 65 vs 894 ms, 14x.
BFLOAT16_SLOWDOWN = 15.7
# Compute capability from which NVIDIA GPUs have bfloat16 tensor cores (Ampere).
GPU_BFLOAT16_CAPABILITY = (8, 0)
# CPU flags (as Linux's /proc/cpuinfo names them) of native bfloat16 arithmetic, best first.
CPU_BFLOAT16_FLAGS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512_BF16"))
# The vector extensions named when a CPU has no bfloat16, best first.
CPU_VECTOR_FLAGS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"))
# oneDNN's ISA levels (ONEDNN_MAX_CPU_ISA, oneDNN's documented order) below which it uses no bfloat16
# instructions: a cap under AVX512_CORE_BF16 takes native bfloat16 away from TensorFlow's kernels.
_ONEDNN_ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")


@dataclasses.dataclass(frozen=True)
class CpuInfo:
    """A CPU as the decision sees it.

    Attributes:
        model: the model name (``/proc/cpuinfo``'s ``model name``), for messages.
        architecture: ``platform.machine()`` normalised: ``x86_64``, ``arm64``, ...
        flags: instruction-set flags, lower case, as Linux names them (``avx2``, ``avx512_bf16``,
            ``amx_bf16``; on arm64 ``bf16``, ``sve``, ...).
    """

    model: str = "unknown CPU"
    architecture: str = "x86_64"
    flags: FrozenSet[str] = frozenset()

    @property
    def bfloat16_isa(self):
        """The name of the CPU's native bfloat16 instructions (``"AMX-BF16"``, ``"AVX512_BF16"``), or None."""
        if self.architecture != "x86_64":
            return None
        return next((name for flag, name in CPU_BFLOAT16_FLAGS if flag in self.flags), None)

    @property
    def vector_isa(self):
        """The widest vector extension, for messages (``"AVX2"``), or the architecture's name."""
        if self.architecture != "x86_64":
            return self.architecture
        return next((name for flag, name in CPU_VECTOR_FLAGS if flag in self.flags), "no AVX")

    def summary(self):
        """``"<model> (x86_64: AVX-512, AVX512_BF16)"``: the flags that matter to the precision."""
        isas = [self.vector_isa] + [name for flag, name in CPU_BFLOAT16_FLAGS[::-1] if flag in self.flags]
        if self.architecture != "x86_64":
            isas = ["bf16" if "bf16" in self.flags else "no bf16 flag"]
        return f"{self.model} ({self.architecture}: {', '.join(isas)})"


@dataclasses.dataclass(frozen=True)
class GpuInfo:
    """A GPU TensorFlow sees: its name and CUDA compute capability (None when TensorFlow does not say)."""

    name: str
    compute_capability: Optional[Tuple[int, int]] = None


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """What ``--mixed_precision=auto`` resolved to, and why (one line, for the run's first lines)."""

    precision: str
    reason: str

    def line(self):
        return f"precision: {self.precision} — {self.reason}"


def choose_precision(cpu: CpuInfo, gpus: Sequence[GpuInfo] = (), environ: Mapping[str, str] = None):
    """The training precision for this hardware: bfloat16 where it is native, float32 otherwise.

    Args:
        cpu: the CPU (``read_cpu()``).
        gpus: the GPUs TensorFlow will train on (``read_gpus()``); with any, they decide, and all of
            them must have native bfloat16.
        environ: the environment (default ``os.environ``): ``TF_ENABLE_ONEDNN_OPTS=0`` and an
            ``ONEDNN_MAX_CPU_ISA`` below ``AVX512_CORE_BF16`` take the CPU's native bfloat16 away.

    Returns:
        A ``PrecisionChoice``. float16 is never chosen: its loss scaling wins on tensor-core GPUs
        before Ampere, which this project has not measured; ``--mixed_precision=float16`` asks for it.
    """
    environ = os.environ if environ is None else environ
    if gpus:
        def described(gpu):
            capability = gpu.compute_capability
            return f"{gpu.name} (compute capability {'.'.join(map(str, capability)) if capability else 'unknown'})"

        without = [gpu for gpu in gpus if not gpu.compute_capability or tuple(gpu.compute_capability) < GPU_BFLOAT16_CAPABILITY]
        if without:
            return PrecisionChoice("float32", f"GPU {described(without[0])} has no native bfloat16 (needs compute "
                                              f"capability {'.'.join(map(str, GPU_BFLOAT16_CAPABILITY))})")
        return PrecisionChoice("bfloat16", f"GPU {described(gpus[0])} computes bfloat16 natively")
    isa = cpu.bfloat16_isa
    if cpu.architecture != "x86_64":
        return PrecisionChoice("float32", f"{cpu.architecture} CPU: TensorFlow's bfloat16 there is not measured by "
                                          "this project")
    if isa is None:
        return PrecisionChoice("float32", f"this CPU has no native bfloat16 ({cpu.vector_isa})")
    if environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return PrecisionChoice("float32", f"oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0), so the CPU's {isa} is unused")
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if cap in _ONEDNN_ISAS_WITHOUT_BF16:
        return PrecisionChoice("float32", f"ONEDNN_MAX_CPU_ISA={cap} keeps oneDNN off the CPU's {isa}")
    return PrecisionChoice("bfloat16", f"this CPU computes bfloat16 natively ({isa})")


def slow_precision_warning(precision, choice):
    """A one-line warning when an explicit ``precision`` is bfloat16 but the hardware has no native
    bfloat16 (``choice``: what ``auto`` would take), else None."""
    if precision != "bfloat16" or choice.precision == "bfloat16":
        return None
    return (f"Warning: --mixed_precision=bfloat16, but {choice.reason}: bfloat16 training runs about "
            f"{BFLOAT16_SLOWDOWN:.0f}x slower than float32 on such hardware (convolution gradients, measured); "
            "--mixed_precision=auto or float32 is faster.")


# --- Reading the machine ---------------------------------------------------------------------


def _architecture():
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)


def parse_cpuinfo(text, architecture="x86_64"):
    """The ``CpuInfo`` of a Linux ``/proc/cpuinfo`` text (first processor's model and flags)."""
    model, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "features") and flags is None:
            flags = frozenset(value.lower().split())
    return CpuInfo(model or "unknown CPU", architecture, flags or frozenset())


def _sysctl(name):
    try:
        return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def read_cpu():
    """This machine's ``CpuInfo``: Linux's ``/proc/cpuinfo``, macOS's ``sysctl``; elsewhere the
    architecture alone (no flags: ``auto`` then takes float32)."""
    architecture = _architecture()
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            return parse_cpuinfo(handle.read(), architecture)
    if platform.system() == "Darwin":
        features = " ".join(_sysctl(name) for name in ("machdep.cpu.features", "machdep.cpu.leaf7_features"))
        flags = {flag.lower().replace(".", "_") for flag in features.split()}
        if _sysctl("hw.optional.arm.FEAT_BF16") == "1":
            flags.add("bf16")
        return CpuInfo(_sysctl("machdep.cpu.brand_string") or "unknown CPU", architecture, frozenset(flags))
    return CpuInfo(platform.processor() or "unknown CPU", architecture, frozenset())


def read_gpus():
    """The GPUs TensorFlow sees, with their compute capability (``tf.config.experimental.get_device_details``)."""
    import tensorflow as tf  # deferred: the CPU side of this module must not pay TensorFlow's import

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capability = details.get("compute_capability")
        gpus.append(GpuInfo(details.get("device_name", device.name), tuple(capability) if capability else None))
    return gpus
