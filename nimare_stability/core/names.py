"""Map and table names, as NiMARE writes them and as this package adds to them.

NiMARE names maps ``<kind>[_desc-…][_level-…][_corr-<TYPE>_method-<method>]`` with ``kind``
one of ``z``, ``p`` or ``logp`` (−log10 p); diagnostics add label maps
``label<rest of the name>_tail-<tail>`` and tables ``<target>_diag-<Name>_tab-<what>``.
"""

import re

KINDS = ("z", "p", "logp")
_CORRECTION = re.compile(r"_corr-(?P<type>[A-Za-z]+)_method-(?P<method>[A-Za-z]+)")


def split_kind(target_image):
    """Split a map name into its kind (``z``, ``p``, ``logp``) and the rest of the name."""
    kind, _, rest = target_image.partition("_")
    if kind not in KINDS:
        raise ValueError(
            f"target_image={target_image!r} is not a z, p or logp map; accepted: a map name "
            "starting with 'z', 'p' or 'logp' (e.g. 'z_corr-FDR_method-indep')."
        )
    return kind, (f"_{rest}" if rest else "")


def sibling(target_image, kind):
    """Return the name of ``target_image``'s map of another ``kind``."""
    return kind + split_kind(target_image)[1]


def correction(target_image):
    """Return ``(type, method)`` of the target's correction, or None when uncorrected."""
    match = _CORRECTION.search(target_image)
    return (match["type"], match["method"]) if match else None


def correction_suffix(target_image):
    """Return the ``_corr-…_method-…`` part of a map name ("" when uncorrected)."""
    corr = correction(target_image)
    return "" if corr is None else "_corr-{}_method-{}".format(*corr)


def peak_map_name(target_image):
    """Return the uncorrected map a corrected target derives from (``z`` for most)."""
    name = _CORRECTION.sub("", target_image)
    name = name.replace("_level-cluster", "").replace("_level-voxel", "")
    name = re.sub(r"_desc-(size|mass)(?=_|$)", "", name)
    return re.sub(r"(_desc-\w+?)(Size|Mass)(?=_|$)", r"\1", name)


def label_map_name(target_image, tail):
    """NiMARE's diagnostics' label map of ``target_image``'s clusters in one tail."""
    return f"label{split_kind(target_image)[1]}_tail-{tail}"


def diagnostic_stem(target_image, diagnostic):
    """``<target>_diag-<diagnostic>``: the prefix of a diagnostic's maps and tables."""
    return f"{target_image}_diag-{diagnostic}"
