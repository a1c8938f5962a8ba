"""Optimizers under PyTorch's names (``torch.optim``): ``optimizer`` holds ``Optimizer``, ``SGD``, ``Adam`` and
``AdamW`` (the update rules, ``param_groups``, ``state_dict``)."""

from .optimizer import SGD, Adam, AdamW, Optimizer  # noqa: F401
