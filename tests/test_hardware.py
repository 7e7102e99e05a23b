"""The precision ``--mixed_precision=auto`` takes, on injected hardware: CPU flag sets of real
processors (as Linux's /proc/cpuinfo lists them) and GPUs of known compute capability."""

import pytest

from mimamo_tf import hardware
from mimamo_tf.hardware import CpuInfo, GpuInfo, choose_precision, parse_cpuinfo, slow_precision_warning

_X86_BASE = "fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt aes avx f16c fma"
# Flag sets of real processors (abridged to what the decision reads, with the neighbours that could confuse it).
AVX2_ONLY = CpuInfo("AMD EPYC 7B12", "x86_64", frozenset((_X86_BASE + " avx2 bmi2").split()))
AVX512_NO_BF16 = CpuInfo("Intel Xeon Platinum 8259CL", "x86_64",
                         frozenset((_X86_BASE + " avx2 avx512f avx512bw avx512vl avx512_vnni").split()))
AVX512_BF16 = CpuInfo("AMD EPYC 9R14", "x86_64",
                      frozenset((_X86_BASE + " avx2 avx512f avx512bw avx512_vnni avx512_bf16").split()))
AMX = CpuInfo("Intel Xeon Platinum 8481C", "x86_64",
              frozenset((_X86_BASE + " avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8").split()))
ARM64 = CpuInfo("Neoverse-V1", "arm64", frozenset("fp asimd sve bf16 i8mm".split()))


@pytest.mark.parametrize("cpu, precision, reason", [
    (AVX2_ONLY, "float32", "this CPU has no native bfloat16 (AVX2)"),
    (AVX512_NO_BF16, "float32", "this CPU has no native bfloat16 (AVX-512)"),
    (AVX512_BF16, "bfloat16", "this CPU computes bfloat16 natively (AVX512_BF16)"),
    (AMX, "bfloat16", "this CPU computes bfloat16 natively (AMX-BF16)"),
    (ARM64, "float32", "arm64 CPU"),
])
def test_a_cpu_gets_bfloat16_only_with_native_bfloat16_instructions(cpu, precision, reason):
    choice = choose_precision(cpu, (), environ={})
    assert choice.precision == precision
    assert reason in choice.reason
    assert choice.line() == f"precision: {precision} — {choice.reason}"


@pytest.mark.parametrize("gpus, precision", [
    ([GpuInfo("Tesla T4", (7, 5))], "float32"),
    ([GpuInfo("NVIDIA A100-SXM4-40GB", (8, 0))], "bfloat16"),
    ([GpuInfo("NVIDIA A100-SXM4-40GB", (8, 0)), GpuInfo("Tesla V100", (7, 0))], "float32"),  # all must have it
    ([GpuInfo("a GPU TensorFlow says nothing about")], "float32"),
])
def test_gpus_decide_over_the_cpu(gpus, precision):
    for cpu in (AVX2_ONLY, AMX):
        choice = choose_precision(cpu, gpus, environ={})
        assert choice.precision == precision
        assert "GPU" in choice.reason and ("7.5" in choice.reason or precision == "bfloat16" or len(gpus) > 1
                                           or "unknown" in choice.reason)


@pytest.mark.parametrize("environ", [{"TF_ENABLE_ONEDNN_OPTS": "0"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"},
                                     {"ONEDNN_MAX_CPU_ISA": "avx512_core_vnni"}])
def test_an_environment_that_keeps_onednn_off_bfloat16_gets_float32(environ):
    choice = choose_precision(AVX512_BF16, (), environ=environ)
    assert choice.precision == "float32" and next(iter(environ)) in choice.reason
    # A cap at or above the bfloat16 level leaves it.
    assert choose_precision(AVX512_BF16, (), environ={"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}).precision == "bfloat16"


def test_an_explicit_bfloat16_without_native_support_warns_with_the_measured_slowdown():
    warning = slow_precision_warning("bfloat16", choose_precision(AVX2_ONLY, (), environ={}))
    assert warning.startswith("Warning: --mixed_precision=bfloat16") and "AVX2" in warning
    assert f"{hardware.BFLOAT16_SLOWDOWN:.0f}x slower" in warning
    assert slow_precision_warning("bfloat16", choose_precision(AVX512_BF16, (), environ={})) is None
    assert slow_precision_warning("float32", choose_precision(AVX2_ONLY, (), environ={})) is None


def test_cpuinfo_is_read_from_the_first_processor_of_a_linux_proc_cpuinfo():
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\n"
            f"flags\t\t: {_X86_BASE} avx2\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: avx512_bf16\n")
    cpu = parse_cpuinfo(text)
    assert cpu.model == "AMD EPYC 7B12" and "avx2" in cpu.flags and "avx512_bf16" not in cpu.flags
    assert cpu.summary() == "AMD EPYC 7B12 (x86_64: AVX2)"
    arm = parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd bf16\nCPU part\t: 0xd40\n", "arm64")
    assert arm.architecture == "arm64" and "bf16" in arm.flags
    assert AMX.summary() == "Intel Xeon Platinum 8481C (x86_64: AVX-512, AVX512_BF16, AMX-BF16)"


def test_this_machine_is_read_without_error():
    cpu = hardware.read_cpu()
    choice = choose_precision(cpu, hardware.read_gpus())
    assert choice.precision in ("float32", "bfloat16") and choice.reason
