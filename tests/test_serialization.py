"""minigen.save / minigen.load: round trips, atomic writes, no pickle, clear errors."""

import io

import numpy as np
import pytest

import minigen

pytestmark = pytest.mark.lesson06


def test_nested_round_trip(tmp_path):
    state = {"model": {"w": minigen.randn(3, 4), "b": minigen.zeros(4, dtype=minigen.float64)},
             "epoch": 7, "lr": 1e-3, "name": "vae", "betas": (0.9, 0.999), "history": [1.5, 2.5],
             "none": None, "flag": True, 3: {"step": 2, "exp_avg": minigen.ones(2)}}
    minigen.save(state, tmp_path / "ck.npz")
    back = minigen.load(tmp_path / "ck.npz")
    assert back["epoch"] == 7 and back["lr"] == 1e-3 and back["name"] == "vae" and back["none"] is None
    assert back["betas"] == (0.9, 0.999) and back["history"] == [1.5, 2.5] and back["flag"] is True
    assert back[3]["step"] == 2
    assert back["model"]["b"].dtype == np.float64 and back["model"]["w"].dtype == np.float32
    assert np.array_equal(back["model"]["w"].numpy(), state["model"]["w"].numpy())


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "ck.npz"
    minigen.save({"a": minigen.ones(2)}, target)
    minigen.save({"a": minigen.zeros(2)}, target)  # replaces in one step
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    assert minigen.load(target)["a"].numpy().tolist() == [0.0, 0.0]


def test_saved_file_has_the_permissions_of_an_ordinary_file(tmp_path):
    (tmp_path / "plain").write_bytes(b"")                # what open() makes under this process's umask
    minigen.save({"a": minigen.ones(2)}, tmp_path / "ck.npz")
    assert (tmp_path / "ck.npz").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


def test_failed_save_keeps_the_old_file(tmp_path):
    target = tmp_path / "ck.npz"
    minigen.save({"a": minigen.ones(2)}, target)
    with pytest.raises(TypeError, match="cannot store"):
        minigen.save({"a": object()}, target)
    assert minigen.load(target)["a"].numpy().tolist() == [1.0, 1.0]
    assert len(list(tmp_path.iterdir())) == 1


def test_save_that_fails_while_writing_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    """A crash halfway through the write (a full disk): the target still loads to its old values."""
    target = tmp_path / "ck.npz"
    minigen.save({"w": minigen.ones(50, 50)}, target)
    real_savez = np.savez
    written = []

    def half_then_fail(file, **arrays):                           # the writer dies after half of the bytes
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        data = buffer.getvalue()
        file.write(data[: len(data) // 2])
        written.append(len(data) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        minigen.save({"w": minigen.zeros(50, 50)}, target)
    assert written and written[0] > 1000                          # the failure came after bytes were written
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]     # no stray temporary file
    np.testing.assert_array_equal(minigen.load(target)["w"].numpy(), np.ones((50, 50), np.float32))


def test_truncated_file_gives_clear_error(tmp_path):
    target = tmp_path / "ck.npz"
    minigen.save({"w": minigen.randn(100, 100)}, target)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable minigen checkpoint"):
        minigen.load(target)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable minigen checkpoint"):
        minigen.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a minigen checkpoint"):
        minigen.load(plain)
    with pytest.raises(FileNotFoundError):
        minigen.load(tmp_path / "missing.npz")


def test_pickled_objects_cannot_load(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(evil, __minigen__=np.frombuffer(b'{"format": "minigen-checkpoint/1", "tree": {"kind": "tensor", '
                                             b'"ref": "t0"}}', dtype=np.uint8),
             t0=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        minigen.load(evil)
