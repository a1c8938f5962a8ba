"""Datasets and the DataLoader: IDX parsing, checksums, corrupt downloads, the embedded digits, CIFAR-10."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from minigen import data
from minigen.data import files

pytestmark = pytest.mark.lesson07


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


@pytest.fixture
def tiny_fashion(tmp_path):
    """A 6-image Fashion-MNIST-format folder, and a dataset class whose checksum table matches it."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    table = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        for name, array in ((f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28))),
                            (f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))):
            blob = idx_bytes(array)
            (folder / name).write_bytes(blob)
            table[name] = md5(blob)

    class TinyFashion(data.FashionMNIST):
        md5 = table
        mirrors = []
    return tmp_path, TinyFashion


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(np.uint8)
    (tmp_path / "a.gz").write_bytes(idx_bytes(array))
    assert np.array_equal(data.read_idx(tmp_path / "a.gz"), array)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        data.read_idx(tmp_path / "bad")


def test_fashion_mnist_loader_on_a_tiny_idx_set(tiny_fashion):
    root, TinyFashion = tiny_fashion
    train, test = TinyFashion(root, train=True), TinyFashion(root, train=False)
    assert train.data.shape == (6, 28, 28) and train.data.dtype == np.uint8
    assert test.targets.shape == (4,) and test.targets.dtype == np.int64
    assert TinyFashion.classes[9] == "Ankle boot"


def test_offline_error_lists_files_sums_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGEN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError) as info:
        data.FashionMNIST(tmp_path, download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz  (MD5 8d4fb7e6c68d591d4c3dfef9ec88bf0d)" in message
    assert str(tmp_path / "fashion-mnist") in message and "MINIGEN_DATA" in message


def test_corrupt_download_is_detected_and_nothing_is_kept(tiny_fashion, tmp_path):
    root, TinyFashion = tiny_fashion
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in TinyFashion.md5:
        (mirror / name).write_bytes(b"truncated")  # the 'server' sends a broken file
    target = tmp_path / "fresh"

    class FromMirror(TinyFashion):
        mirrors = [mirror.as_uri() + "/"]
    with pytest.raises(files.ChecksumError, match="corrupt or incomplete.*nothing was kept"):
        FromMirror(target, train=True)
    assert not any((target / "fashion-mnist").glob("*")), "a partial or corrupt file was left behind"


def test_download_from_a_mirror_checks_and_places_files(tiny_fashion, tmp_path):
    root, TinyFashion = tiny_fashion

    class FromMirror(TinyFashion):
        mirrors = ["file:///does/not/exist/", (root / "fashion-mnist").as_uri() + "/"]  # first mirror fails
    target = tmp_path / "fresh"
    ds = FromMirror(target, train=False)
    assert len(ds) == 4 and (target / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_corrupt_local_file_is_removed_and_reported(tiny_fashion, tmp_path):
    root, TinyFashion = tiny_fashion
    target = tmp_path / "fresh"
    (target / "fashion-mnist").mkdir(parents=True)
    bad = target / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(b"half a file")

    class FromMirror(TinyFashion):
        mirrors = [(root / "fashion-mnist").as_uri() + "/"]
    with pytest.warns(UserWarning, match="is corrupt or incomplete.*removed it and downloading it again"):
        ds = FromMirror(target, train=False)
    assert len(ds) == 4 and files.verified(bad, TinyFashion.md5[bad.name])  # replaced by a good copy


def test_corrupt_file_in_a_shared_folder_is_reported_not_deleted(tiny_fashion, tmp_path, monkeypatch):
    root, TinyFashion = tiny_fashion
    shared = tmp_path / "shared"
    (shared / "fashion-mnist").mkdir(parents=True)
    bad = shared / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"junk")
    monkeypatch.setenv("MINIGEN_DATA", str(shared))
    with pytest.raises(files.ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt or incomplete"):
        TinyFashion(tmp_path / "elsewhere", train=False)
    assert bad.exists()


def tiny_cifar(root, batches: dict):
    """Write a CIFAR-10 python archive holding ``batches`` ({member name: dict}) under root/cifar10, and return a
    CIFAR10 class whose checksum table matches it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, batch in batches.items():
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (root / "cifar10").mkdir()
    (root / "cifar10" / data.CIFAR10.archive).write_bytes(buffer.getvalue())

    class Tiny(data.CIFAR10):
        md5 = {data.CIFAR10.archive: md5(buffer.getvalue())}
    return Tiny


def test_cifar10_reads_a_tiny_archive(tmp_path):
    rng = np.random.default_rng(0)
    Tiny = tiny_cifar(tmp_path, {name: {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                                        b"labels": [int(v) for v in rng.integers(0, 10, n)]}
                                 for name, n in [(f"data_batch_{i}", 2) for i in range(1, 6)] + [("test_batch", 3)]})
    train, test = Tiny(tmp_path, train=True), Tiny(tmp_path, train=False)
    assert train.data.shape == (10, 32, 32, 3) and test.data.shape == (3, 32, 32, 3)
    assert train.targets.dtype == np.int64


def test_cifar10_refuses_archives_that_would_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    Tiny = tiny_cifar(tmp_path, {"test_batch": {b"data": Evil(), b"labels": []}})
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        Tiny(tmp_path, train=False)


def test_embedded_digits_are_deterministic_balanced_and_cached(tmp_path):
    a = data.Digits(tmp_path, n=60, seed=3)
    b = data.Digits(tmp_path, n=60, seed=3, cache=False)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.targets, b.targets)
    assert a.data.shape == (60, 28, 28) and a.data.dtype == np.uint8
    assert np.bincount(a.targets, minlength=10).tolist() == [6] * 10
    assert (tmp_path / "digits" / "digits-60-3.npz").exists()
    c = data.Digits(tmp_path, n=60, seed=4, cache=False)
    assert not np.array_equal(a.data, c.data)
    ink = a.data.mean(axis=0)
    assert ink[14, 14] > ink[1, 1]  # centred: ink in the middle, not at the border


def test_dataloader_order_is_fixed_per_seed_and_epoch():
    ds = data.TensorDataset(np.arange(10), np.arange(10) * 2)
    loader = data.DataLoader(ds, batch_size=4, shuffle=True, seed=7)
    epoch0 = [x.numpy().tolist() for x, _ in loader]
    epoch1 = [x.numpy().tolist() for x, _ in loader]
    assert epoch0 != epoch1 and sorted(sum(epoch0, [])) == list(range(10))
    loader.set_epoch(1)
    assert [x.numpy().tolist() for x, _ in loader] == epoch1
    assert [len(x) for x, _ in data.DataLoader(ds, 4, drop_last=True)] == [4, 4]
    assert len(data.DataLoader(ds, 4)) == 3 and len(data.DataLoader(ds, 4, drop_last=True)) == 2


def test_transforms():
    images = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    rng = np.random.default_rng(0)
    x = data.ToFloat()(images, rng)
    assert x.dtype == np.float32 and x.max() == 1.0
    assert data.ScaleTo(-1, 1)(x, rng).min() == -1.0
    b = data.Binarize()(np.full((1000,), 0.3, np.float32), rng)
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.05
    assert data.Flatten()(x, rng).shape == (1, 4) and data.AddChannel()(x, rng).shape == (1, 1, 2, 2)


@pytest.mark.skipif(not os.environ.get("MINIGEN_DATA") or
                    not (Path(os.environ.get("MINIGEN_DATA", "")) / "mnist").exists(),
                    reason="real MNIST not available (set MINIGEN_DATA)")
def test_real_mnist_from_minigen_data():
    train, test = data.MNIST(download=False), data.MNIST(train=False, download=False)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9]
