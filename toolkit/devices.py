"""What this machine can do, checked against what a recipe asks for when the recipe is loaded, so a GPU
recipe on the wrong machine fails at once with one message: mixed precision (training.fp16 / bf16 / tf32),
the weights' dtype (model.dtype), the attention implementation (model.attn_implementation) and sharding
(an FSDP or DeepSpeed launch, or training.fsdp / training.deepspeed)."""

from __future__ import annotations

import importlib.util
import os

import torch

from toolkit.errors import ToolkitError
from toolkit.schema import suggest

ATTENTION = ("eager", "sdpa", "flex_attention", "flash_attention_2", "flash_attention_3")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTENTION_PACKAGES = {"flash_attention_2": "flash_attn", "flash_attention_3": "flash_attn_interface"}


def accelerator() -> str | None:
    """The accelerator torch sees: cuda (NVIDIA or ROCm), mps, xpu, or None for a CPU-only machine."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return "xpu"
    return None


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls in hardware. Without them a CPU emulates bf16, and autocast made SFT
    14x slower on such a machine; with them it was 1.6x faster on one machine and as fast on another
    (benchmarks/RESULTS.md)."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def bf16_supported() -> bool:
    """bf16 compute that helps: on CUDA from Ampere on, on CPUs with bf16 in hardware, on MPS and XPU."""
    kind = accelerator()
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    if kind is None:
        return cpu_has_native_bf16()
    return kind in ("mps", "xpu")


def describe() -> str:
    kind = accelerator()
    if kind == "cuda":
        count = torch.cuda.device_count()
        return f"cuda: {torch.cuda.get_device_name(0)}" + (f" x{count}" if count > 1 else "")
    if kind:
        return kind
    bf16 = ", bf16 in hardware" if cpu_has_native_bf16() else ""
    return f"cpu ({torch.get_num_threads()} threads, {os.cpu_count()} cores{bf16})"


KERNEL_PACKAGES = ("flash_attn", "liger_kernel")


def installed_kernels() -> set[str]:
    return {name for name in KERNEL_PACKAGES if importlib.util.find_spec(name) is not None}


def gpu_kernels(kind: str | None, weights_dtype: str | None, installed: set[str]) -> dict:
    """What TRL recommends on an NVIDIA GPU, where the packages are installed (a recipe's own setting wins):

    - attention: in SFT, flash_attention_2 when flash-attn is installed and the weights are bf16 or fp16 (its
      kernels take half precision only, also when generating outside autocast); else None, transformers' sdpa.
    - padding_free_packing: SFT packs rows with bfd and no padding when flash attention runs, whose varlen
      kernel makes a packed row cost what its tokens cost. (On a CPU, sdpa applies a dense block mask over
      the packed batch instead, which measured slower than padding: benchmarks/RESULTS.md.)
    - liger: SFT with Liger's kernels when liger-kernel is installed (models it has no kernels for, GPT-2
      and BERT among them, train unchanged)."""
    cuda = kind == "cuda"
    flash = cuda and "flash_attn" in installed and weights_dtype in ("bfloat16", "float16")
    return {"attention": "flash_attention_2" if flash else None, "padding_free_packing": flash,
            "liger": cuda and "liger_kernel" in installed}


def is_on(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def check_precision(training: dict, where: str) -> None:
    """training: the recipe's training block. Mixed precision it cannot have here is refused."""
    kind = accelerator()
    if is_on(training.get("fp16")) and is_on(training.get("bf16")):
        raise ToolkitError(f"{where}: training.fp16 and training.bf16 are both on; mixed precision is one or the "
                           f"other. Keep bf16 on GPUs that have it (Ampere and newer), fp16 on older ones.")
    if is_on(training.get("fp16")) and kind is None:
        raise ToolkitError(f"{where}: training.fp16 asks for fp16 mixed precision, which needs a GPU; this machine "
                           f"has none ({describe()}). Remove fp16 to train in float32 here, or run on a GPU.")
    if is_on(training.get("bf16")) and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ToolkitError(f"{where}: training.bf16: this GPU ({torch.cuda.get_device_name(0)}) has no bf16 "
                           f"support (it needs compute capability 8.0 or newer). Use fp16: true instead.")
    if is_on(training.get("tf32")) and not (kind == "cuda" and torch.cuda.get_device_capability(0)[0] >= 8):
        raise ToolkitError(f"{where}: training.tf32 needs an NVIDIA GPU of the Ampere generation or newer; this "
                           f"machine has {describe()}. Remove tf32.")


def check_dtype(dtype: str | None, where: str) -> None:
    if dtype is None:
        return
    if dtype not in DTYPES:
        raise ToolkitError(f"{where}: model.dtype '{dtype}' is not one of {', '.join(DTYPES)}"
                           f"{suggest(dtype, DTYPES)}.")
    if dtype == "float16" and accelerator() is None:
        raise ToolkitError(f"{where}: model.dtype float16 needs a GPU to train; this machine has none "
                           f"({describe()}). Use float32 (the default), or bfloat16 to halve memory.")
    if dtype == "bfloat16" and accelerator() == "cuda" and not torch.cuda.is_bf16_supported():
        raise ToolkitError(f"{where}: model.dtype bfloat16: this GPU ({torch.cuda.get_device_name(0)}) has no "
                           f"bf16 support. Use float16 or float32.")


def check_attention(implementation: str | None, where: str) -> None:
    """An implementation transformers knows and this machine can run; a model that lacks it is reported by
    transformers when it loads."""
    if implementation is None or implementation in ("eager", "sdpa"):
        return
    if "/" in implementation:  # a kernel from the hub, e.g. kernels-community/flash-attn
        if importlib.util.find_spec("kernels") is None:
            raise ToolkitError(f"{where}: model.attn_implementation '{implementation}' is a hub kernel, which needs "
                               f"the 'kernels' package: pip install kernels (and a network to fetch it).")
        return
    if implementation not in ATTENTION:
        raise ToolkitError(f"{where}: model.attn_implementation '{implementation}' is not one of "
                           f"{', '.join(ATTENTION)}{suggest(implementation, ATTENTION)} (or a hub kernel id).")
    package = ATTENTION_PACKAGES.get(implementation)
    if package and accelerator() != "cuda":
        raise ToolkitError(f"{where}: model.attn_implementation {implementation} needs an NVIDIA GPU; this machine "
                           f"has {describe()}. Use sdpa (the default), which runs everywhere.")
    if package and importlib.util.find_spec(package) is None:
        raise ToolkitError(f"{where}: model.attn_implementation {implementation} needs the '{package}' package, "
                           f"which is not installed. Install it, or use sdpa (the default).")


def check_lm_head(mode: str | None, training: dict, where: str) -> None:
    from toolkit.lm_head import MODES

    if mode is None:
        return
    if mode not in MODES:
        raise ToolkitError(f"{where}: model.lm_head '{mode}' is not one of {', '.join(MODES)}{suggest(mode, MODES)}.")
    if mode == "compact" and accelerator() is not None and not is_on(training.get("use_cpu")):
        raise ToolkitError(f"{where}: model.lm_head compact tunes TRL's LM head for CPU runs; this run is on "
                           f"{describe()}, where TRL already scores only labelled positions. Remove model.lm_head.")


# How each sharding is asked for: the variable `accelerate launch` sets in every process it starts (from the
# config's distributed_type or its --use_fsdp / --use_deepspeed flag), and the trainer config's own key.
SHARDING = {"FSDP": ("ACCELERATE_USE_FSDP", "distributed_type: FSDP or --use_fsdp", "fsdp"),
            "DeepSpeed": ("ACCELERATE_USE_DEEPSPEED", "distributed_type: DEEPSPEED or --use_deepspeed", "deepspeed")}


def sharding_asked(training: dict) -> tuple[str, str] | None:
    """(FSDP or DeepSpeed, what asked for it), or None. The launch is read first: it is what users change."""
    for name, (variable, source, _) in SHARDING.items():
        if is_on(os.environ.get(variable)):
            return name, f"this accelerate launch asks for {name} ({variable}=true, from {source})"
    for name, (_, _, key) in SHARDING.items():
        if training.get(key):
            return name, f"training.{key} asks for {name}"
    return None


def runs_on_cpu(training: dict) -> str | None:
    """Why this run trains on the CPU, or None. transformers reads use_cpu from the recipe and from accelerate."""
    if accelerator() is None:
        return f"this machine has no GPU ({describe()})"
    if is_on(training.get("use_cpu")):
        return "training.use_cpu puts this run on the CPU"
    if is_on(os.environ.get("ACCELERATE_USE_CPU")):
        return "ACCELERATE_USE_CPU=true puts this run on the CPU"
    return None


def check_sharding(training: dict, where: str) -> None:
    """FSDP and DeepSpeed shard over GPUs only. On a CPU accelerate 1.15 drops them without a word: a
    multi-process launch becomes MULTI_CPU with the whole model in DistributedDataParallel in every process.
    Someone who asked for sharding to fit a model in memory must not get that, so it is refused here, before
    any model or data loads."""
    asked, cpu = sharding_asked(training), runs_on_cpu(training)
    if asked is None or cpu is None:
        return
    name, source = asked
    keys = [f"training.{key}" for _, _, key in SHARDING.values() if training.get(key)]
    remove = f"remove {' and '.join(keys)} and " if keys else ""
    raise ToolkitError(f"{where}: {source}, which shards the model over GPUs, but {cpu}: accelerate would "
                       f"train an unsharded copy of the model in every process (plain DDP) without saying so. "
                       f"Without GPUs, {remove}launch with --config_file recipes/accelerate/multi-process-cpu.yaml "
                       f"(DDP over gloo; each process holds the whole model); to shard, run on GPUs.")


def check_recipe(recipe) -> None:
    check_precision(recipe.training, f"{recipe.source}")
    check_sharding(recipe.training, recipe.source)
    check_dtype(recipe.model.dtype, recipe.source)
    check_attention(recipe.model.attn_implementation, recipe.source)
    check_lm_head(recipe.model.lm_head, recipe.training, recipe.source)
