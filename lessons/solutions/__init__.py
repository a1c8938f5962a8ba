"""Reference answers to the exercises, one module per lesson (the checks in tests/test_lessons.py run on these
unless ``MINIGEN_CHECK=exercises`` is set). Try the exercise before you read its answer."""
