"""sepconv_bench: the benchmark, outside the library.

Installed next to ``sepconv`` as its own package (``bench/`` in the source
tree): ``peers`` (the cases, the engines compared and the interleaved timer)
and ``report`` (``sepconv bench``'s driver and table).  The library never
imports it; ``sepconv.cli`` does, for the ``bench`` command only.  The
scripts beside it (bench.py, backward.py, ladder.py, overhead.py, streaming.py) are run
from a checkout.
"""
