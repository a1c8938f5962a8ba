"""What the exercise checks of lessons 09-13 share: which module they check.

``under_test()`` is the learner's file ``lessons/exercises/lessonNN.py`` when ``MINIGEN_CHECK=exercises`` is set,
else the reference solutions (so the suite is green before anyone has solved anything); ``reference()`` is always
``lessons/solutions/lessonNN.py``.
"""

import sys
from pathlib import Path

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
sys.path.insert(0, str(LESSONS))
import course  # noqa: E402  (lessons/course.py)


def checks(lesson: int):
    """(under_test, reference): two functions returning lesson ``lesson``'s module under test and its solutions."""
    def under_test():
        return course.exercise_module(lesson, reload=False)

    def reference():
        return course.exercise_module(lesson, "solutions", reload=False)
    return under_test, reference
