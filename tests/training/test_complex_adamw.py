"""``adamw_complex``: neuraloperator's AdamW update, one second moment per complex entry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sciml.training.optim import ComplexAdamW, build_optimizer


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def _train(net: nn.Module, opt: torch.optim.Optimizer, steps: int = 30) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randn(64, 3, generator=g, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        (net(x) - y).square().mean().backward()
        opt.step()


def test_on_real_parameters_it_follows_torch_adamw_without_decay() -> None:
    # eps 1e-12: the one remaining difference (eps before/after the bias correction) vanishes
    ours, ref = _net(), _net()
    _train(ours, build_optimizer(ours.parameters(), "adamw_complex", 1e-2, eps=1e-12))
    _train(ref, torch.optim.AdamW(ref.parameters(), lr=1e-2, eps=1e-12, weight_decay=0.0))
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)  # 30 steps move ~0.1


def test_eps_is_torch_eps_scaled_by_the_bias_correction() -> None:
    # one step: eps_torch = eps / sqrt(1 - beta2) reproduces it exactly
    ours, ref = _net(), _net()
    eps, beta2 = 1e-3, 0.999
    _train(ours, ComplexAdamW(ours.parameters(), lr=1e-2, eps=eps), steps=1)
    _train(
        ref,
        torch.optim.AdamW(
            ref.parameters(), lr=1e-2, eps=eps / math.sqrt(1 - beta2), weight_decay=0.0
        ),
        steps=1,
    )
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_decoupled_decay_alone_shrinks_like_torch_adamw() -> None:
    # zero gradients: no Adam step, only the decay, p_t = (1 - lr*wd)^t p_0 on both sides
    p_ours = nn.Parameter(torch.linspace(-1, 1, 7, dtype=torch.float64))
    p_ref = nn.Parameter(p_ours.detach().clone())
    ours = ComplexAdamW([p_ours], lr=0.1, weight_decay=0.5)
    ref = torch.optim.AdamW([p_ref], lr=0.1, weight_decay=0.5)
    for _ in range(5):
        for p, opt in ((p_ours, ours), (p_ref, ref)):
            p.grad = torch.zeros_like(p)
            opt.step()
    torch.testing.assert_close(p_ours, p_ref)
    torch.testing.assert_close(
        p_ours.detach(), 0.95**5 * torch.linspace(-1, 1, 7, dtype=torch.float64)
    )


def test_decay_is_applied_after_the_adam_step() -> None:
    p = nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    opt = ComplexAdamW([p], lr=0.1, eps=0.0, weight_decay=0.5)
    p.grad = torch.tensor([3.0], dtype=torch.float64)
    opt.step()  # first step: m/sqrt(v) after bias correction = sign(g) = 1
    torch.testing.assert_close(
        p.detach(), torch.tensor([(2.0 - 0.1) * (1 - 0.05)], dtype=torch.float64)
    )


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_a_complex_step_keeps_the_phase_of_the_gradient(dtype) -> None:
    # first step, eps 0: each entry moves by lr * g/|g| (one scale per complex entry); torch's
    # AdamW moves real and imaginary parts by lr each, lr * (sign Re g + i sign Im g)
    g = torch.tensor([3 + 4j, -1 + 0.01j, 0.2 - 5j], dtype=dtype)
    p = nn.Parameter(torch.zeros(3, dtype=dtype))
    q = nn.Parameter(torch.zeros(3, dtype=dtype))
    ours, ref = (
        ComplexAdamW([p], lr=0.1, eps=0.0),
        torch.optim.AdamW([q], lr=0.1, eps=0.0, weight_decay=0.0),
    )
    p.grad, q.grad = g.clone(), g.clone()
    ours.step()
    ref.step()
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.complex64 else {}
    torch.testing.assert_close(p.detach(), -0.1 * g / g.abs(), **tol)
    torch.testing.assert_close(
        q.detach(), -0.1 * torch.complex(g.real.sign(), g.imag.sign()), **tol
    )
    assert ours.state[p]["exp_avg_sq"].dtype == g.real.dtype  # one real moment per entry


def test_complex_steps_match_a_reference_with_one_shared_moment_per_entry() -> None:
    # several steps on a complex weight = Adam on (re, im) pairs sharing v = EMA(re² + im²)
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(4, 3, dtype=torch.complex128))
    x = torch.randn(10, 4, dtype=torch.complex128)
    y = torch.randn(10, 3, dtype=torch.complex128)
    lr, (b1, b2), eps, wd = 1e-2, (0.9, 0.99), 1e-6, 1e-3
    ref = torch.view_as_real(w.detach().clone())  # (4, 3, 2)
    m = torch.zeros_like(ref)
    v = torch.zeros(4, 3, dtype=torch.float64)
    opt = ComplexAdamW([w], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    for t in range(1, 8):
        opt.zero_grad()
        (x @ w - y).abs().square().mean().backward()
        g = torch.view_as_real(w.grad.detach().clone())
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g.square().sum(-1)
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        ref = (ref - step * m / (v.sqrt() + eps).unsqueeze(-1)) * (1 - lr * wd)
    torch.testing.assert_close(torch.view_as_real(w.detach()), ref)


def test_it_trains_an_fno_weight_and_bad_options_name_themselves() -> None:
    with pytest.raises(ValueError, match="adamw_complex: betas"):
        ComplexAdamW([nn.Parameter(torch.zeros(1))], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="adamw_complex: eps must be >= 0"):
        ComplexAdamW([nn.Parameter(torch.zeros(1))], eps=-1.0)
    with pytest.raises(ValueError, match=r"expected one of \['adam', 'adamw', 'adamw_complex'\]"):
        build_optimizer([nn.Parameter(torch.zeros(1))], "sgd", 1e-3)
