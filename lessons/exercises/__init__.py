"""Your answers to the exercises, one module per lesson: replace each ``raise NotImplementedError``.

Check them with ``MINIGEN_CHECK=exercises python -m pytest -m lessonNN`` (or ``check(NN, "exercises")`` at the
end of the lesson's notebook). The reference answers are in ``lessons/solutions/``.
"""
