"""FE verification tests run in float64 on one intra-op thread.

The FE tests solve many tiny systems; on a shared 2-core runner (``pytest -n 2``) torch's default
two intra-op threads spin-wait on every small einsum and made these tests ~3× slower than one
thread. The setting is restored after each test.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _float64_single_thread():
    old_dtype, old_threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(old_dtype)
    torch.set_num_threads(old_threads)
