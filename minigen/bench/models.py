"""Workloads W3 and W4: one training step of a DCGAN and of a VAE, in minigen and, when
it is importable, in PyTorch with the same architecture, batch and optimizer.

W3 (batch 256): G = Linear(100 → 7·7·256, no bias), BN, LeakyReLU → ConvT(256→128, 5, s1, p2), BN, LeakyReLU
→ ConvT(128→64, 5, s2, p2, op1), BN, LeakyReLU → ConvT(64→1, 5, s2, p2, op1), tanh;
D = Conv(1→64, 5, s2, p2), LeakyReLU, Dropout 0.3 → Conv(64→128, 5, s2, p2), LeakyReLU, Dropout 0.3 →
Linear(6272 → 1); BCE with logits; a D step on real and (detached) fake, then a G step; Adam.

W4 (batch 128): 784 → 400 (ReLU) → μ, log σ² (20 each); 20 → 400 (ReLU) → 784 logits; BCE (sum) + KL; Adam.
"""

from __future__ import annotations

from .registry import Case, workload
from .timing import torch_device, torch_on


def _dcgan(nn):
    """The W3 generator and discriminator from a torch.nn-like module (minigen.nn or torch.nn)."""
    G = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.2),
        nn.Unflatten(1, (256, 7, 7)),                                                   # → (N, 256, 7, 7)
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),   # 7×7
        nn.ConvTranspose2d(128, 64, 5, 2, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),  # 14×14
        nn.ConvTranspose2d(64, 1, 5, 2, 2, 1, bias=False), nn.Tanh())                               # 28×28
    D = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2), nn.Dropout(0.3),                  # → (N, 64, 14, 14)
        nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.2), nn.Dropout(0.3),                # → (N, 128, 7, 7)
        nn.Flatten(), nn.Linear(6272, 1))                                                # → (N, 1) logits
    return G, D


def _gan_step(G, D, opt_g, opt_d, z, real, ones, zeros, bce):
    fake = G(z)
    loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = bce(D(fake), ones)  # non-saturating generator loss
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


@workload("W3", "DCGAN training step (D then G, Adam), batch 256")
def _w3(device):
    import minigen
    from minigen import nn, optim
    from minigen.nn import functional as F

    minigen.manual_seed(0)
    G, D = _dcgan(nn)
    G.to(device)
    D.to(device)
    args = (G, D, optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
            optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)),
            minigen.randn(256, 100, device=device), minigen.randn(256, 1, 28, 28, device=device).tanh(),
            minigen.ones(256, 1, device=device), minigen.zeros(256, 1, device=device),
            F.binary_cross_entropy_with_logits)
    torch_step = None
    torch = torch_on(device)
    if torch is not None:
        torch.manual_seed(0)
        td = torch_device(device)
        tG, tD = (m.to(td) for m in _dcgan(torch.nn))
        targs = (tG, tD, torch.optim.Adam(tG.parameters(), 2e-4, betas=(0.5, 0.999)),
                 torch.optim.Adam(tD.parameters(), 2e-4, betas=(0.5, 0.999)),
                 torch.randn(256, 100, device=td), torch.randn(256, 1, 28, 28, device=td).tanh(),
                 torch.ones(256, 1, device=td), torch.zeros(256, 1, device=td),
                 torch.nn.functional.binary_cross_entropy_with_logits)
        torch_step = lambda: _gan_step(*targs)  # noqa: E731
    return Case(lambda: _gan_step(*args), torch_step, None)


def _vae(nn):
    enc = nn.Sequential(nn.Linear(784, 400), nn.ReLU())
    mu, logvar = nn.Linear(400, 20), nn.Linear(400, 20)
    dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
    return enc, mu, logvar, dec


def _vae_step(lib, F, modules, opt, x):
    enc, mu_layer, logvar_layer, dec = modules
    h = enc(x)                                                                     # (128, 400)
    mu, logvar = mu_layer(h), logvar_layer(h)                                      # (128, 20) each
    z = mu + (0.5 * logvar).exp() * lib.randn(*mu.shape, device=mu.device)
    logits = dec(z)                                                                # (128, 784)
    loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") \
        - 0.5 * (1 + logvar - mu * mu - logvar.exp()).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()


@workload("W4", "VAE training step (784-400-20, BCE sum + KL, Adam), batch 128")
def _w4(device):
    import minigen
    from minigen import nn, optim
    from minigen.nn import functional as F

    minigen.manual_seed(0)
    modules = [m.to(device) for m in _vae(nn)]
    x = minigen.rand(128, 784, device=device)
    opt = optim.Adam([p for m in modules for p in m.parameters()], 1e-3)
    torch_step = None
    torch = torch_on(device)
    if torch is not None:
        td = torch_device(device)
        tmodules = [m.to(td) for m in _vae(torch.nn)]
        tx = torch.rand(128, 784, device=td)
        topt = torch.optim.Adam([p for m in tmodules for p in m.parameters()], 1e-3)
        torch_step = lambda: _vae_step(torch, torch.nn.functional, tmodules, topt, tx)  # noqa: E731
    return Case(lambda: _vae_step(minigen, F, modules, opt, x), torch_step, None)
