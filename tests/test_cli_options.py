"""Options are checked before the studyset is read, each refusal naming option and value."""

import inspect

import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta import kernel
from nimare.meta.cbma import ALE, KDA, MKDADensity

from nimare_stability import cli
from nimare_stability.cli import options, runner
from nimare_stability.core import validation

SPHERE = "accepted: r, value, memory, memory_level."


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--kernel-arg", "fwhm=abc"], "--kernel-arg fwhm='abc' is not accepted; accepted: a "
         "number > 0."),
        (["--kernel-arg", "fwhm=-2"], "--kernel-arg fwhm=-2 is not accepted; accepted: a "
         "number > 0."),
        (["--kernel-arg", "sample_size=2.5"], "--kernel-arg sample_size=2.5 is not accepted; "
         "accepted: a whole number > 0."),
        (["--kernel-arg", "sigma=2"], "--kernel-arg sigma=2 is not accepted: ALEKernel has no "
         "parameter 'sigma'; accepted: fwhm, sample_size, memory, memory_level."),
        (["--estimator", "MKDADensity", "--kernel-arg", "r=abc"], "--kernel-arg r='abc' is not "
         "accepted; accepted: a number > 0."),
        (["--estimator", "KDA", "--kernel-arg", "fwhm=10"], "--kernel-arg fwhm=10 is not "
         f"accepted: KDAKernel has no parameter 'fwhm'; {SPHERE}"),
        (["--kernel-arg", "fwhm=10", "--kernel-arg", "sample_size=20"], "--kernel-arg fwhm=10 "
         "sample_size=20 is not accepted by ALEKernel: Only one of \"fwhm\" and \"sample_size\" "
         "may be provided."),
        (["--corrector-arg", "n_iters=x"], "--corrector-arg n_iters='x' is not accepted; "
         "--n-iters sets it."),
        (["--corrector-arg", "voxel_thresh=0.01"], "--corrector-arg voxel_thresh=0.01 is not "
         "accepted; --voxel-thresh sets it."),
        (["--corrector-arg", "n_cores=2"], "--corrector-arg n_cores=2 is not accepted; "
         "--n-cores sets it."),
        (["--corrector-arg", "method=bonferroni"], "--corrector-arg method='bonferroni' is not "
         "accepted; --corrector sets it."),
        (["--corrector-arg", "foo=1"], "--corrector-arg foo=1 is not accepted with --corrector "
         "montecarlo; accepted: vfwe_only."),
        (["--corrector-arg", "vfwe_only=maybe"], "--corrector-arg vfwe_only='maybe' is not "
         "accepted; accepted: true or false."),
        (["--corrector", "fdr", "--corrector-arg", "alpha=2"], "--corrector-arg alpha=2 is not "
         "accepted; accepted: a number in (0, 1)."),
        (["--corrector", "fdr", "--corrector-arg", "method=holm"], "--corrector-arg "
         "method='holm' is not accepted; accepted: 'indep' or 'negcorr'."),
        (["--corrector", "bonferroni", "--corrector-arg", "alpha=0.01"], "--corrector-arg "
         "alpha=0.01 is not accepted with --corrector bonferroni; accepted: none."),
    ],
)  # fmt: skip
def test_a_bad_kernel_or_corrector_arg_is_refused_before_the_studyset_is_read(
    extra, message, tmp_path, capsys
):
    argv = ["run", str(tmp_path / "missing.json"), "--output-dir", str(tmp_path), *extra]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"nimare-stability run: error: {message}\n"


def test_an_output_dir_that_is_a_file_or_lies_inside_one_is_refused(tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("")
    accepted = "accepted: a folder, new or existing, that can be written."
    with pytest.raises(ValueError) as error:
        options.check_output_dir(file)
    assert str(error.value) == f"--output-dir={str(file)!r} is a file; {accepted}"
    with pytest.raises(ValueError) as error:
        options.check_output_dir(file / "out" / "deeper")
    assert str(error.value) == (
        f"--output-dir={str(file / 'out' / 'deeper')!r} lies inside the file {str(file)!r}; "
        f"{accepted}"
    )
    assert options.check_output_dir(tmp_path / "new" / "deeper") is None


def test_an_output_dir_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(validation.os, "access", lambda path, mode: path != tmp_path)
    with pytest.raises(ValueError) as error:
        options.check_output_dir(tmp_path / "out")
    assert str(error.value) == (
        f"--output-dir={str(tmp_path / 'out')!r} cannot be written ({str(tmp_path)!r} is "
        "read-only for you); accepted: a folder, new or existing, that can be written."
    )


def test_good_options_pass_and_build_the_kernel_asked_for(tmp_path):
    def job(**changes):
        return runner.Job(studysets=["x.json"], output_dir=str(tmp_path), **changes)

    fdr = job(corrector="fdr", corrector_args={"method": "negcorr", "alpha": 0.01})
    montecarlo = job(corrector_args={"vfwe_only": True}, kernel_args={"sample_size": 20})
    for passing in (fdr, montecarlo, job(estimator="KDA", kernel_args={"r": 8, "value": 2})):
        assert options.check(passing) is None
    assert options.kernel(job()) is None
    built = options.kernel(job(kernel="ALEKernel", kernel_args={"fwhm": 8}))
    assert isinstance(built, kernel.ALEKernel) and built.fwhm == 8
    estimator = runner._estimator(job(estimator="MKDADensity", kernel_args={"r": 6}))
    assert isinstance(estimator.kernel_transformer, kernel.MKDAKernel)
    assert estimator.kernel_transformer.r == 6


@pytest.mark.parametrize("name", options.KERNELS)
def test_the_kernel_parameters_checked_are_those_of_the_nimare_kernel(name):
    parameters = inspect.signature(getattr(kernel, name).__init__).parameters
    assert list(options.KERNEL_PARAMETERS[name]) == [p for p in parameters if p != "self"]


def test_the_corrector_parameters_checked_are_those_nimare_accepts():
    for estimator in (ALE, MKDADensity, KDA):
        method = inspect.signature(estimator.correct_fwe_montecarlo).parameters
        extra = set(method) - {"self", "result"} - set(options.OWN_OPTIONS)
        assert extra == set(options.CORRECTOR_PARAMETERS["montecarlo"]), estimator.__name__
    fdr = set(inspect.signature(FDRCorrector.__init__).parameters) - {"self", "kwargs"}
    assert fdr == set(options.CORRECTOR_PARAMETERS["fdr"])
    bonferroni = inspect.signature(FWECorrector.correct_fwe_bonferroni).parameters
    assert set(bonferroni) == {"self", "nlogp"} and not options.CORRECTOR_PARAMETERS["bonferroni"]
