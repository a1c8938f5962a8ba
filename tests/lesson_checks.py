"""What every lesson's exercise checks share: which module they check.

``under_test(n)`` is the learner's file ``lessons/exercises/lessonNN.py`` when ``MINIGEN_CHECK=exercises`` is set,
else the reference solutions (so the suite is green before anyone has solved anything); ``reference(n)`` is always
``lessons/solutions/lessonNN.py``.
"""

import sys
from pathlib import Path

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
sys.path.insert(0, str(LESSONS))
import course  # noqa: E402  (lessons/course.py)


def under_test(lesson: int):
    return course.exercise_module(lesson, reload=False)


def reference(lesson: int):
    return course.exercise_module(lesson, "solutions", reload=False)


def checks(lesson: int):
    """(under_test, reference) for one lesson, as functions of no arguments (the files of lessons 09-13)."""
    return (lambda: under_test(lesson)), (lambda: reference(lesson))
