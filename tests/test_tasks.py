"""Tasks: exact generation rules, chance baselines, determinism and the shared contract."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dynalysis.errors import OptionError
from dynalysis.tasks import MNIST_FILES, TASKS, TOMITA_DFAS, AddingTask, CopyTask, DataFileError, DelayedRecallTask, DigitsTask, LinearTeacherTask, MNISTTask, TomitaTask, build_task, read_idx, tomita_accepts, write_idx

# tiny instances of every generated or shipped task (MNIST needs files: see the end of this file)
TINY = {
    "copy": dict(seq_len=25, n_train=12, n_val=6, n_test=5),
    "adding": dict(seq_len=9, n_train=12, n_val=6, n_test=5),
    "digits": dict(order="pixel", permute=True),
    "tomita": dict(grammar=3, max_len=6, test_min_len=7, test_max_len=9, n_train=12, n_val=6,
                   n_test=5),
    "delayed_recall": dict(seq_len=12, lags=[0, 2, 5], n_train=12, n_val=6, n_test=5),
    "linear_teacher": dict(seq_len=12, kernel="exponential", kernel_length=5, n_train=12,
                           n_val=6, n_test=5),
    "flipflop": dict(n_bits=2, seq_len=12, n_train=12, n_val=6, n_test=5),
}


def test_every_task_is_registered_and_has_a_tiny_instance():
    assert set(TINY) | {"mnist", "neurogym"} == set(TASKS)  # neurogym: tests/test_neurogym.py


# --- the shared contract ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_split_shapes_and_dtypes_match_the_documented_table(name, split):
    task = build_task(name, **TINY[name])
    x, y = task.split(split)
    n = len(x)
    assert x.dtype == torch.float32 and x.ndim == 3 and x.shape[2] == task.input_size
    if not (name == "tomita" and split == "test"):  # Tomita's test split is longer
        assert x.shape[1] == task.seq_len
    T = x.shape[1]
    expected = {("last", "cross_entropy"): ((n,), torch.int64),
                ("last", "mse"): ((n, task.output_size), torch.float32),
                ("sequence", "cross_entropy"): ((n, T), torch.int64),
                ("sequence", "mse"): ((n, T, task.output_size), torch.float32)}
    shape, dtype = expected[(task.target_mode, task.loss)]
    assert tuple(y.shape) == shape and y.dtype == dtype
    if task.loss == "cross_entropy":
        assert 0 <= int(y.min()) and int(y.max()) < task.output_size
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", sorted(TINY))
def test_same_seed_same_data_other_seed_other_data(name):
    a, b = build_task(name, **TINY[name]), build_task(name, **TINY[name])
    for split in ("train", "val", "test"):
        assert torch.equal(a.split(split).inputs, b.split(split).inputs)
        assert torch.equal(a.split(split).targets, b.split(split).targets)
    other = build_task(name, **{**TINY[name], "seed": 1})
    assert not torch.equal(a.split("train").inputs, other.split("train").inputs)


@pytest.mark.parametrize("name", sorted(TINY))
def test_spec_rebuilds_the_same_task_for_the_analyses(name):
    task = build_task(name, **TINY[name])
    spec = task.spec()
    assert spec["name"] == name
    assert all(v is None or isinstance(v, (bool, int, float, str, list)) for v in spec.values())
    again = build_task(**spec)
    assert torch.equal(again.split("train").inputs, task.split("train").inputs)
    assert again.chance_loss == task.chance_loss
    assert task.success_loss == pytest.approx(0.5 * task.chance_loss)


def test_generated_splits_are_independent_draws():
    x = CopyTask(**TINY["copy"])
    train, val = x.split("train").inputs, x.split("val").inputs
    assert not torch.equal(train[: len(val)], val)


@pytest.mark.parametrize("name, bad", [
    ("copy", dict(seq_len=20)), ("copy", dict(n_symbols=1)), ("copy", dict(n_train=0)),
    ("adding", dict(seq_len=1)), ("tomita", dict(grammar=8)), ("tomita", dict(max_len=0)),
    ("tomita", dict(test_max_len=4, test_min_len=5)), ("delayed_recall", dict(lags=[12])),
    ("delayed_recall", dict(lags=[1, 1])), ("delayed_recall", dict(distribution="cauchy")),
    ("linear_teacher", dict(kernel="gabor")), ("linear_teacher", dict(tau=0.0)),
    ("linear_teacher", dict(kernel="custom")), ("linear_teacher", dict(kernel_values=[1.0])),
    ("digits", dict(order="row", permute=True)), ("digits", dict(order="column")),
])
def test_invalid_options_raise_option_error_naming_the_option(name, bad):
    with pytest.raises(OptionError) as err:
        build_task(name, **{**TINY[name], **bad})
    key = next(iter(bad))
    assert key in str(err.value) or (key == "kernel_values" and "custom" in str(err.value))


# --- copy task --------------------------------------------------------------------------------
def test_copy_task_follows_orhan_pitkow_layout_exactly():
    task = CopyTask(n_train=64, n_val=2, n_test=2)  # paper defaults: T=500, 8 symbols, 10 copied
    x, y = task.split("train")
    T = 500
    assert task.input_size == 10 and task.output_size == 9 and task.cue == 9
    assert torch.equal(x.sum(-1), torch.ones(64, T)) and set(x.unique().tolist()) == {0.0, 1.0}
    codes = x.argmax(-1)
    symbols = codes[:, :10]
    assert int(symbols.min()) >= 1 and int(symbols.max()) <= 8
    assert (codes[:, 10:T - 11] == 0).all() and codes[:, 10:T - 11].shape[1] == T - 21
    assert (codes[:, T - 11] == 9).all()
    assert (codes[:, T - 10:] == 0).all()
    assert (y[:, : T - 10] == 0).all()
    # the target after the cue is exactly the first 10 symbols
    assert torch.equal(y[:, T - 10:], symbols)
    assert set(symbols.unique().tolist()) == set(range(1, 9))


def test_copy_chance_loss_is_the_loss_of_the_stepwise_prior_predictor():
    task = CopyTask(seq_len=40, n_symbols=5, n_copy=4, n_train=8, n_val=2, n_test=2)
    _, y = task.split("train")
    logits = torch.full((8, 40, 6), -math.inf)
    logits[:, :36, 0] = 0.0  # certain blank while nothing is recalled
    logits[:, 36:, 1:] = 0.0  # uniform over the 5 symbols during recall
    loss = F.cross_entropy(logits.reshape(-1, 6), y.reshape(-1))
    assert loss.item() == pytest.approx(4 * math.log(5) / 40, rel=1e-6)
    assert task.chance_loss == pytest.approx(4 * math.log(5) / 40)
    assert CopyTask().chance_loss == pytest.approx(10 * math.log(8) / 500)


# --- adding problem ---------------------------------------------------------------------------
def test_adding_problem_marks_one_step_per_half_and_targets_their_sum():
    task = AddingTask(seq_len=11, n_train=500, n_val=2, n_test=2)
    x, y = task.split("train")
    mask, signal = x[..., 0], x[..., 1]
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert (mask[:, :5].sum(1) == 1).all() and (mask[:, 5:].sum(1) == 1).all()
    assert (signal >= 0).all() and (signal < 1).all()
    assert torch.equal(y[:, 0], (mask * signal).sum(1))
    assert AddingTask().seq_len == 750 and y.shape == (500, 1)


def test_adding_chance_loss_is_the_variance_of_the_target():
    task = AddingTask(seq_len=4, n_train=40000, n_val=2, n_test=2)
    y = task.split("train").targets
    assert task.chance_loss == pytest.approx(1 / 6)
    assert F.mse_loss(torch.ones_like(y), y).item() == pytest.approx(1 / 6, abs=0.005)


# --- sequential and permuted digits -----------------------------------------------------------
def test_digit_permutation_is_fixed_by_its_seed_and_differs_across_seeds():
    p0 = DigitsTask(permute=True, permutation_seed=0).permutation()
    assert torch.equal(p0, DigitsTask(permute=True, permutation_seed=0).permutation())
    assert not torch.equal(p0, DigitsTask(permute=True, permutation_seed=1).permutation())
    assert torch.equal(p0.sort().values, torch.arange(64))
    assert DigitsTask().permutation() is None


def test_digit_orders_are_the_same_pixels():
    plain = DigitsTask().split("val").inputs  # (n, 64, 1)
    rows = DigitsTask(order="row").split("val").inputs  # (n, 8, 8)
    perm_task = DigitsTask(permute=True, permutation_seed=3)
    permuted = perm_task.split("val").inputs
    assert torch.equal(plain.reshape(-1, 8, 8), rows)
    assert torch.equal(permuted, plain[:, perm_task.permutation()])
    assert DigitsTask().split("val").targets.shape == (270,)


# --- Tomita grammars: DFAs against independent recognisers ------------------------------------
_NOT_T3 = re.compile(r"((0|1)*0)*1(11)*(0(0|1)*1)*0(00)*(1(0|1)*)*$")  # Weiss et al. 2018
REFERENCE = {
    1: lambda w: "0" not in w,
    2: lambda w: w == "10" * (len(w) // 2),
    3: lambda w: _NOT_T3.match(w) is None,
    4: lambda w: "000" not in w,
    5: lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
    6: lambda w: (w.count("0") - w.count("1")) % 3 == 0,
    7: lambda w: re.fullmatch(r"0*1*0*1*", w) is not None,
}


@pytest.mark.parametrize("grammar", range(1, 8))
def test_tomita_dfa_agrees_with_the_reference_on_every_string_up_to_length_12(grammar):
    for L in range(13):
        words = ["".join(b) for b in itertools.product("01", repeat=L)]
        bits = torch.tensor([[int(c) for c in w] for w in words], dtype=torch.int64)
        bits = bits.reshape(len(words), L)
        got = tomita_accepts(grammar, bits).tolist()
        assert got == [REFERENCE[grammar](w) for w in words], f"length {L}"


def _decode(inputs: torch.Tensor) -> list[str]:
    codes = inputs.argmax(-1)
    return ["".join("01"[c - 1] for c in row if c > 0) for row in codes.tolist()]


@pytest.mark.parametrize("grammar", range(1, 8))
def test_tomita_labels_agree_with_the_reference_and_classes_are_balanced(grammar):
    task = TomitaTask(grammar=grammar, min_len=2, max_len=10, test_min_len=11, test_max_len=14,
                      n_train=80, n_val=10, n_test=41)
    for split, (lo, hi) in (("train", (2, 10)), ("test", (11, 14))):
        x, y = task.split(split)
        assert x.shape[1] == hi and torch.equal(x.sum(-1), torch.ones(x.shape[:2]))
        words = _decode(x)
        assert [int(REFERENCE[grammar](w)) for w in words] == y.tolist()
        assert int(y.sum()) == len(y) // 2
        assert all(lo <= len(w) <= hi for w in words)
        # left padding: pad symbols, then the string up to the last step
        n_pad = x[..., 0].sum(1).long()
        assert n_pad.tolist() == [hi - len(w) for w in words]
        assert all((x[i, : n_pad[i], 0] == 1).all() for i in range(len(words)))


def test_tomita_strings_are_uniform_within_class_and_length():
    # grammar 4 at length 3: 7 positives (all but 000), one negative
    task = TomitaTask(grammar=4, min_len=3, max_len=3, test_min_len=3, test_max_len=3,
                      n_train=700, n_val=2, n_test=2)
    x, y = task.split("train")
    words = _decode(x)
    positives = [w for w, label in zip(words, y.tolist()) if label]
    counts = {w: positives.count(w) for w in set(positives)}
    assert set(counts) == {"".join(b) for b in itertools.product("01", repeat=3)} - {"000"}
    assert all(abs(c - 50) < 25 for c in counts.values())  # 350 draws over 7 strings
    assert {w for w, label in zip(words, y.tolist()) if not label} == {"000"}


def test_tomita_range_without_strings_of_a_class_is_rejected():
    with pytest.raises(OptionError, match="grammar 2 has no strings in the language"):
        TomitaTask(grammar=2, min_len=3, max_len=3)
    assert TomitaTask().chance_loss == pytest.approx(math.log(2))


def test_tomita_dfas_are_complete():
    for trans, accept in TOMITA_DFAS.values():
        assert all(0 <= s < len(trans) for row in trans for s in row) and accept


# --- memory probes ----------------------------------------------------------------------------
@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_delayed_recall_targets_are_delayed_inputs_and_zero_before(distribution):
    lags = [0, 3, 1, 9]
    task = DelayedRecallTask(seq_len=10, lags=lags, distribution=distribution, n_train=7,
                             n_val=2, n_test=2)
    x, y = task.split("train")
    for i, k in enumerate(lags):
        for t in range(10):
            expected = x[:, t - k, 0] if t >= k else torch.zeros(7)
            assert torch.equal(y[:, t, i], expected)
    if distribution == "uniform":
        assert x.abs().max() <= math.sqrt(3)


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_memory_probe_chance_losses_are_the_mse_of_predicting_zero(distribution):
    task = DelayedRecallTask(seq_len=10, lags=[0, 3, 9], distribution=distribution,
                             n_train=4000, n_val=2, n_test=2)
    y = task.split("train").targets
    assert task.chance_loss == pytest.approx((10 + 7 + 1) / 30)
    assert y.pow(2).mean().item() == pytest.approx(task.chance_loss, rel=0.03)
    teacher = LinearTeacherTask(seq_len=10, kernel="exponential", tau=2.0, kernel_length=6,
                                amplitude=0.7, distribution=distribution, n_train=4000)
    y = teacher.split("train").targets
    assert y.pow(2).mean().item() == pytest.approx(teacher.chance_loss, rel=0.03)


def _convolve_reference(x: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    n, T, _ = x.shape
    y = torch.zeros(n, T, 1, dtype=torch.float64)
    for t in range(T):
        for j in range(min(t + 1, len(K))):
            y[:, t, 0] += K[j] * x[:, t - j, 0].double()
    return y


@pytest.mark.parametrize("options, kernel", [
    (dict(kernel="exponential", tau=3.0, kernel_length=7, amplitude=0.5),
     0.5 * torch.exp(-torch.arange(7.0, dtype=torch.float64) / 3.0)),
    (dict(kernel="single_lag", lag=4, amplitude=2.0), torch.tensor([0, 0, 0, 0, 2.0])),
    (dict(kernel="custom", kernel_values=[0.3, -1.0, 0.0, 0.25]),
     torch.tensor([0.3, -1.0, 0.0, 0.25], dtype=torch.float64)),
])
def test_linear_teacher_is_the_causal_convolution_with_its_kernel(options, kernel):
    task = LinearTeacherTask(seq_len=15, n_train=5, n_val=2, n_test=2, **options)
    assert torch.allclose(task.teacher_kernel(), kernel.double(), rtol=0, atol=1e-12)
    x, y = task.split("train")
    assert torch.allclose(y.double(), _convolve_reference(x, task.teacher_kernel()), atol=1e-6)
    K = task.teacher_kernel()
    closed = float((K**2 * (15 - torch.arange(len(K)))).sum() / 15)
    assert task.chance_loss == pytest.approx(closed)


def test_linear_teacher_single_lag_chance_and_kernel_beyond_the_sequence():
    task = LinearTeacherTask(seq_len=10, kernel="single_lag", lag=4, amplitude=3.0)
    assert task.chance_loss == pytest.approx(9.0 * 6 / 10)
    long = LinearTeacherTask(seq_len=10, kernel="single_lag", lag=12, n_train=3)
    assert long.chance_loss == 0.0 and (long.split("train").targets == 0).all()


def test_linear_teacher_with_kernel_CA_jB_reproduces_a_linear_rnn():
    """docs/science.md §4: h_t = A h_{t−1} + B x_t, y_t = C h_t  ⇔  y_t = Σ_j C A^j B x_{t−j}."""
    g = torch.Generator().manual_seed(0)
    N, T = 5, 20
    A = torch.randn(N, N, generator=g, dtype=torch.float64)
    A = 0.9 * A / torch.linalg.eigvals(A).abs().max()
    B = torch.randn(N, 1, generator=g, dtype=torch.float64)
    C = torch.randn(1, N, generator=g, dtype=torch.float64)
    K = [float(C @ torch.linalg.matrix_power(A, j) @ B) for j in range(T)]
    task = LinearTeacherTask(seq_len=T, kernel="custom", kernel_values=K, n_train=4)
    x, y = task.split("train")
    h = torch.zeros(4, N, dtype=torch.float64)
    for t in range(T):
        h = h @ A.T + x[:, t].double() @ B.T
        np.testing.assert_allclose(y[:, t].double().numpy(), (h @ C.T).numpy(), atol=1e-5)


# --- MNIST / Fashion-MNIST from IDX files ------------------------------------------------------
def _idx_bytes(magic: int, array: np.ndarray) -> bytes:
    """IDX by hand (big-endian magic, int32 sizes, raw bytes): independent of `write_idx`."""
    head = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return head + array.astype(np.uint8).tobytes()


def write_tiny_mnist(folder, *, n_train=20, n_test=10, seed=0, gz=False):
    """Random 28×28 uint8 images and labels as the four MNIST files; returns the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        image_name, label_name = MNIST_FILES[part]
        suffix = ".gz" if gz else ""
        write_idx(folder / (image_name + suffix), images)
        write_idx(folder / (label_name + suffix), labels)
        data[part] = (images, labels)
    return data


def test_read_idx_reads_hand_written_files_and_round_trips(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(0x00000803, images))
    np.testing.assert_array_equal(read_idx(tmp_path / "a", ndim=3), images)
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        arr = (np.arange(6).reshape(3, 2) - (0 if dtype == np.uint8 else 2)).astype(dtype)
        for name in ("b", "b.gz"):
            out = read_idx(write_idx(tmp_path / name, arr))
            assert out.dtype == arr.dtype and np.array_equal(out, arr)


@pytest.mark.parametrize("content, message", [
    (b"\x08\x03\x00\x00" + bytes(20), "not an IDX file"),
    (b"", "not an IDX file"),
    (_idx_bytes(0x00000803, np.zeros((2, 28, 28)))[:-5], "truncated"),
    (_idx_bytes(0x00000801, np.zeros(3)), "3 dimensions"),
    (b"\x1f\x8b garbage", "cannot read"),
])
def test_read_idx_rejects_corrupt_files_clearly(tmp_path, content, message):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(DataFileError, match=message):
        read_idx(tmp_path / "f", ndim=3)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_in_pixel_and_row_order(tmp_path, gz):
    data = write_tiny_mnist(tmp_path, gz=gz)
    task = MNISTTask(root=str(tmp_path), val_fraction=0.25, seed=3)
    (x_tr, y_tr), (x_val, y_val) = task.split("train"), task.split("val")
    assert x_tr.shape == (15, 784, 1) and x_val.shape == (5, 784, 1) and x_tr.dtype == torch.float32
    images, labels = data["train"]
    flat = torch.from_numpy(images.reshape(20, 784).astype(np.float32)) / 255
    # train and val partition the training file; each sequence is its image, pixel by pixel
    both = torch.cat([x_tr, x_val])[..., 0]
    match = (both[:, None] == flat[None]).all(-1).float().argmax(1)
    assert sorted(match.tolist()) == list(range(20))
    assert torch.equal(torch.cat([y_tr, y_val]), torch.from_numpy(labels.astype(np.int64))[match])
    x_te, y_te = task.split("test")
    assert torch.equal(x_te[..., 0] * 255, torch.from_numpy(data["t10k"][0].reshape(10, 784)).float())
    assert torch.equal(y_te, torch.from_numpy(data["t10k"][1].astype(np.int64)))
    rows = MNISTTask(root=str(tmp_path), order="row").split("test").inputs
    assert rows.shape == (10, 28, 28) and torch.equal(rows.reshape(10, 784, 1), x_te)
    assert task.chance_loss == pytest.approx(math.log(10))


def test_mnist_permutation_is_fixed_by_its_seed(tmp_path):
    write_tiny_mnist(tmp_path)
    plain = MNISTTask(root=str(tmp_path), dataset="fashion_mnist").split("test").inputs
    a = MNISTTask(root=str(tmp_path), permute=True, permutation_seed=5)
    assert torch.equal(a.split("test").inputs, plain[:, a.permutation()])
    assert torch.equal(a.permutation(), MNISTTask(root=str(tmp_path), permute=True,
                                                  permutation_seed=5).permutation())
    assert not torch.equal(a.permutation(), MNISTTask(root=str(tmp_path), permute=True,
                                                      permutation_seed=6).permutation())


def test_mnist_missing_files_error_names_the_expected_files(tmp_path):
    write_tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataFileError) as err:
        MNISTTask(root=str(tmp_path)).split("train")
    msg = str(err.value)
    assert "missing t10k-labels-idx1-ubyte" in msg
    assert all(name in msg for names in MNIST_FILES.values() for name in names)
    with pytest.raises(DataFileError, match="does not exist"):
        MNISTTask(root=str(tmp_path / "nowhere"), dataset="fashion_mnist").split("test")


def test_mnist_rejects_images_that_are_not_28x28(tmp_path):
    write_tiny_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10, 8, 8), dtype=np.uint8))
    with pytest.raises(DataFileError, match="28×28"):
        MNISTTask(root=str(tmp_path)).split("test")
