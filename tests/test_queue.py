"""The FIFO contextual queue."""
import pytest
import torch
import torch.nn.functional as F

from cpm.errors import CPMError
from cpm.queue import ContextQueue


def test_initialized_with_unit_vectors():
    q = ContextQueue(10, 4)
    assert torch.allclose(q.queue.norm(dim=1), torch.ones(10), atol=1e-6)
    assert int(q.ptr) == 0 and (q.labels == -1).all()


def test_fifo_order_and_wrap_around():
    q = ContextQueue(5, 2)
    e = F.normalize(torch.arange(1, 15, dtype=torch.float32).view(7, 2), dim=1)
    q.enqueue(e[:3], torch.tensor([0, 1, 2]))
    assert torch.allclose(q.queue[:3], e[:3]) and int(q.ptr) == 3
    q.enqueue(e[3:7], torch.tensor([3, 4, 5, 6]))  # 4 more: slots 3, 4, then wraps to 0, 1
    assert int(q.ptr) == 2
    assert torch.allclose(q.queue, e[[5, 6, 2, 3, 4]])
    assert q.labels.tolist() == [5, 6, 2, 3, 4]


def test_enqueue_normalizes_and_handles_batch_larger_than_queue():
    q = ContextQueue(3, 2)
    e = torch.tensor([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0], [0.0, -5.0]])
    q.enqueue(e)
    # only the 3 newest survive, written from ptr 0 in order
    assert torch.allclose(q.queue, torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0]]))
    assert int(q.ptr) == 0 and (q.labels == -1).all()


def test_state_dict_round_trip_resumes_exactly():
    q = ContextQueue(6, 3)
    q.enqueue(torch.randn(4, 3), torch.arange(4), torch.tensor([7, 8, 9, 10]))
    state = q.state_dict()
    assert set(state) == {"queue", "ptr", "labels", "ids"}
    r = ContextQueue(6, 3)
    r.load_state_dict(state)
    nxt = torch.randn(3, 3)
    q.enqueue(nxt)
    r.enqueue(nxt)
    assert torch.equal(q.queue, r.queue) and int(q.ptr) == int(r.ptr) == 1 and torch.equal(q.labels, r.labels)
    assert r.ids.tolist() == [-1, 8, 9, 10, -1, -1]  # slot 0 overwritten by the id-less entry


def test_wrong_embedding_shape_is_reported():
    with pytest.raises(CPMError, match=r"\(B, 3\)"):
        ContextQueue(4, 3).enqueue(torch.randn(2, 5))
