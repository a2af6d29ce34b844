"""A layer on a dask.distributed cluster of worker processes.

The layer travels to the workers by pickle (the plan cache stays behind and
is rebuilt there); the result equals the in-memory call bit for bit.
"""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import sepconv  # noqa: E402


def test_layer_on_a_local_cluster_of_processes():
    rng = np.random.default_rng(0)
    layer = sepconv.SeparableConv1D(16, 5, padding="same", dilation_rate=2, activation="relu")
    x = rng.standard_normal((6, 3000, 8)).astype(np.float32)
    expected = layer(x, num_threads=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        lazy = layer(da.from_array(x, chunks=(2, 1000, -1)), num_threads=1)
        persisted = lazy.persist()
        distributed.wait(persisted)
        holders = {w for held in client.who_has(persisted).values() for w in held}
        workers = set(client.scheduler_info()["workers"])
        y = persisted.compute()
    assert len(workers) == 2 and holders and holders <= workers  # computed on the workers
    assert np.array_equal(y, expected)
