"""Fork safety: a child forked after OpenMP threads ran computes serial.

GNU libgomp keeps a pool of worker threads after the first parallel region.
``fork()`` copies the pool's bookkeeping but not its threads, so a child's
next parallel region waits for workers that do not exist: it hangs
(``os.fork``, ``multiprocessing``'s fork start method, and
``ProcessPoolExecutor``, the default on Linux before Python 3.14).  sepconv
records when it first asks for more than one thread; a child forked after
that runs every kernel with one thread, which enters no OpenMP region.
A child forked before any threaded call keeps its threads.
"""

from __future__ import annotations

import os

__all__ = ["threads_used", "serial_only", "note_threads", "watch"]

#: True once this process ran a kernel with more than one thread.
threads_used = False

#: True in a child forked after ``threads_used``: every kernel runs serial.
serial_only = False


def note_threads(count):
    """Record a call about to run ``count`` threads; the count to actually use."""
    global threads_used
    if serial_only:
        return 1
    if count > 1:
        threads_used = True
    return count


#: Loaded kernel modules; each keeps its own copy of the flag for the calls
#: that never come back to Python between plan and kernel (prepared calls).
_kernel_modules = []


def watch(module):
    """Tell ``module`` (a kernel module) when this process becomes serial-only."""
    if module not in _kernel_modules:
        _kernel_modules.append(module)
        if serial_only:
            module.mark_serial_only()


def _after_fork_in_child():
    global serial_only
    if threads_used:
        serial_only = True
        for module in _kernel_modules:
            module.mark_serial_only()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
