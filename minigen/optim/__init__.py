"""Optimizers and what works with them, under PyTorch's names (``torch.optim``):

- ``optimizer``: ``Optimizer``, ``SGD``, ``Adam``, ``AdamW`` (the update rules, ``param_groups``, ``state_dict``);
- ``lr_scheduler``: learning rate schedules that set ``lr`` in an optimizer's ``param_groups`` each step;
- ``swa_utils``: ``AveragedModel``, a running (e.g. exponential moving) average of a model's weights.
"""

from . import lr_scheduler, swa_utils  # noqa: F401
from .optimizer import SGD, Adam, AdamW, Optimizer  # noqa: F401
