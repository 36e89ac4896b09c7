"""JAX's persistent compilation cache for a run, opt-in (`train.compilation_cache`).

With a cache directory, every program a run compiles is stored there, and a
later launch of the same run (same programs, same jax and backend) loads
them instead of compiling: a resumed or repeated run starts stepping
sooner. The run reports what the cache did from JAX's own monitoring
events: programs loaded and compiled, and the compile time saved.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

_HITS = "/jax/compilation_cache/cache_hits"
_MISSES = "/jax/compilation_cache/cache_misses"
_SAVED = "/jax/compilation_cache/compile_time_saved_sec"


@dataclass
class Tally:
    """What the cache did during one run."""

    directory: str
    loaded: int = 0  # programs read from the cache
    compiled: int = 0  # programs compiled (and written to it)
    saved_s: float = 0.0  # compile time the loaded ones saved

    def line(self) -> str:
        """The console's account, e.g. for the end of a run."""
        return (
            f"compilation cache {self.directory}: {self.loaded} program(s) "
            f"loaded, {self.compiled} compiled; {self.saved_s:.1f} s of "
            "compiling saved"
        )

    def summary(self) -> dict:
        """The entry results.json holds."""
        return {
            "directory": self.directory,
            "loaded": self.loaded,
            "compiled": self.compiled,
            "saved_s": round(self.saved_s, 3),
        }


@contextlib.contextmanager
def enabled(directory: str) -> Iterator[Tally | None]:
    """Use the cache in `directory` (created) while the block runs; yield
    its `Tally`, or None for `directory` = "" (the cache stays off).

    Every program is cached, however fast it compiled: a run's programs are
    few, and its small ones are the ones a short run waits for.
    """
    if not directory:
        yield None
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    tally = Tally(str(directory))

    def on_event(event: str, **_) -> None:
        tally.loaded += event == _HITS
        tally.compiled += event == _MISSES

    def on_duration(event: str, seconds: float, **_) -> None:
        if event == _SAVED:
            tally.saved_s += seconds

    flags = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    previous = {flag: jax.config.values[flag] for flag in flags}
    _use(str(directory), 0.0)
    jax.monitoring.register_event_listener(on_event)
    jax.monitoring.register_event_duration_secs_listener(on_duration)
    try:
        yield tally
    finally:
        jax.monitoring.unregister_event_listener(on_event)
        jax.monitoring.unregister_event_duration_listener(on_duration)
        _use(*previous.values())  # research code's own settings, as they were


def _use(directory: str | None, min_compile_s: float) -> None:
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
    compilation_cache.reset_cache()  # a cache JAX checked before starts afresh
