"""What machine we run on: hardware, versions, whether Ollama answers. For `doctor`,
the Run record and (later) the planner prompt."""

from __future__ import annotations

import os
import platform
import shutil
from typing import Any

import psutil

from modelyard.engine import settings


def ollama_host() -> str:
    """The Ollama host where no flag or settings file applies: OLLAMA_HOST, else the
    default (`engine/settings.py`)."""
    return settings.resolve().ollama_host


def gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs with free memory, via NVML; empty when there is none or no driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return []
    try:
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            found.append({"index": i, "name": name if isinstance(name, str) else name.decode(),
                          "memory_total_mb": mem.total / 2**20,
                          "memory_free_mb": mem.free / 2**20})
        return found
    finally:
        pynvml.nvmlShutdown()


def ollama_status(host: str | None = None, timeout: float = 2.0) -> dict[str, Any]:
    import httpx

    host = host or ollama_host()
    try:
        reply = httpx.get(f"{host.rstrip('/')}/api/version", timeout=timeout)
        reply.raise_for_status()
        return {"host": host, "reachable": True, "version": reply.json().get("version")}
    except (httpx.HTTPError, ValueError) as exc:
        return {"host": host, "reachable": False, "error": type(exc).__name__}


def hardware() -> dict[str, Any]:
    mem = psutil.virtual_memory()
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "ram_total_gb": round(mem.total / 2**30, 1),
        "ram_available_gb": round(mem.available / 2**30, 1),
        "gpus": gpus(),
    }


def disk_free_gb(path) -> float:
    return round(shutil.disk_usage(path).free / 2**30, 1)
