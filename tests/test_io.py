"""Results files: complex values round-trip, writes are atomic, plain xarray can read them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis.errors import ResultsFileError


def _complex_ds():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    ds = xr.Dataset({"eigenvalue": (("trajectory", "eigen_index"), z),
                     "radius": ("trajectory", np.abs(z).max(1))},
                    coords={"trajectory": np.arange(3), "eigen_index": np.arange(4)},
                    attrs={"analysis": "test", "seed": 3, "options": '{"a": 1}'})
    ds.eigenvalue.attrs.update(long_name="eigenvalue", units="1")
    ds.radius.attrs.update(long_name="spectral radius", units="1")
    return ds


def test_complex_values_round_trip_exactly(tmp_path):
    ds = _complex_ds()
    path = dynalysis.save_results(ds, tmp_path / "c.nc")
    back = dynalysis.open_results(path)
    assert np.iscomplexobj(back.eigenvalue.values)
    np.testing.assert_array_equal(back.eigenvalue.values, ds.eigenvalue.values)
    xr.testing.assert_allclose(back[["eigenvalue", "radius"]], ds[["eigenvalue", "radius"]])
    assert back.eigenvalue.attrs["long_name"] == "eigenvalue" and back.eigenvalue.attrs["units"] == "1"
    assert "complex" not in back.dims


def test_plain_xarray_sees_real_and_imaginary_parts(tmp_path):
    ds = _complex_ds()
    path = dynalysis.save_results(ds, tmp_path / "c.nc")
    with xr.open_dataset(path) as plain:
        assert plain.eigenvalue.dims == ("trajectory", "eigen_index", "complex")
        assert plain.complex.values.tolist() == ["real", "imag"]
        np.testing.assert_array_equal(plain.eigenvalue.sel(complex="real").values, ds.eigenvalue.values.real)
        np.testing.assert_array_equal(plain.eigenvalue.sel(complex="imag").values, ds.eigenvalue.values.imag)
        assert plain.attrs["seed"] == 3


def test_existing_file_is_untouched_without_overwrite(tmp_path):
    path = tmp_path / "r.nc"
    path.write_bytes(b"precious")
    with pytest.raises(ResultsFileError, match="already exists"):
        dynalysis.save_results(_complex_ds(), path)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]  # no temporary left over
    dynalysis.save_results(_complex_ds(), path, overwrite=True)
    assert dynalysis.open_results(path).sizes["trajectory"] == 3


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "r.nc"
    dynalysis.save_results(_complex_ds(), path)
    before = path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        dynalysis.save_results(_complex_ds().assign(radius=lambda d: d.radius * 2), path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_groups_hold_one_analysis_each_and_open_with_plain_xarray(tmp_path):
    lin = dynalysis.MapSystem(lambda h, x: 0.5 * h + x, 2, 2)
    x = torch.randn(2, 30, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    results = {"jacobian": dynalysis.jacobian_eigenvalues(lin, x, every=10),
               "memory_kernel": dynalysis.memory_kernel(lin, x, max_lag=4)}
    path = dynalysis.save_results(results, tmp_path / "g.nc", attrs={"source": "unit test"})
    assert dynalysis.result_groups(path) == ["jacobian", "memory_kernel"]
    for name, ds in results.items():
        back = dynalysis.open_results(path, group=name)
        xr.testing.assert_allclose(back, ds)
        with xr.open_dataset(path, group=name) as plain:
            assert set(ds.data_vars) <= set(plain.data_vars)
    with xr.open_dataset(path) as root:
        assert root.attrs["source"] == "unit test" and root.attrs["groups"] == "jacobian,memory_kernel"
    with pytest.raises(ResultsFileError, match="no group"):
        dynalysis.open_results(path, group="fixed_points")


def test_empty_dimensions_round_trip(tmp_path):
    # a fixed-point search that finds nothing still writes a valid file
    sys_ = dynalysis.MapSystem(lambda h, x: h + 1.0, 2)
    ds = dynalysis.find_fixed_points(sys_, starts=torch.zeros(3, 2, dtype=torch.float64))
    assert ds.sizes["fixed_point"] == 0
    back = dynalysis.open_results(dynalysis.save_results(ds, tmp_path / "e.nc"))
    assert back.sizes["fixed_point"] == 0 and back.eigenvalue.shape == (0, 2)
    assert np.iscomplexobj(back.eigenvalue.values)


@pytest.mark.parametrize("content", [b"", b"not a netcdf file"])
def test_unreadable_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "bad.nc"
    path.write_bytes(content)
    with pytest.raises(ResultsFileError):
        dynalysis.open_results(path)


def test_decoded_complex_variables_keep_their_attributes_but_not_the_marker(tmp_path):
    ds = xr.Dataset({"e": ("i", np.array([1 + 2j, 3 - 1j]))})
    ds.e.attrs.update(long_name="eigenvalue", units="1")
    dynalysis.save_results(ds, tmp_path / "c.nc")
    back = dynalysis.open_results(tmp_path / "c.nc")
    assert back.e.attrs == {"long_name": "eigenvalue", "units": "1"}
