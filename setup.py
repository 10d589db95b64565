"""Build the C training kernel (src/neuraldigits/training/_ckernel.c) when a C compiler is present.

Everything else about the package is in pyproject.toml.  The kernel is
optional: with no compiler (or a failed build) pip still installs the package,
and training uses numba or numpy instead (see neuraldigits.training).  It is
plain C, called through ctypes, so Python's development headers are not needed.
It is built twice, for any CPU and, on x86-64, for CPUs with AVX2 and FMA; the
loader (neuraldigits.training.ckernel) picks the one the machine runs.
"""

import platform
import sys

from setuptools import Extension, setup

unix = sys.platform != "win32"
flags = ["-O3"] if unix else ["/O2"]
link = ["-pthread"] if unix else []
extensions = [
    Extension(
        "neuraldigits.training._ckernel",
        ["src/neuraldigits/training/_ckernel.c"],
        extra_compile_args=flags,
        extra_link_args=link,
        optional=True,
    )
]
if unix and platform.machine().lower() in ("x86_64", "amd64"):
    extensions.append(
        Extension(
            "neuraldigits.training._ckernel_avx2",
            ["src/neuraldigits/training/_ckernel_avx2.c"],
            depends=["src/neuraldigits/training/_ckernel.c"],
            extra_compile_args=[*flags, "-mavx2", "-mfma"],
            extra_link_args=link,
            optional=True,
        )
    )

setup(ext_modules=extensions)
