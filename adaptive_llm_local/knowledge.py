"""What each failure category usually means and how it is usually fixed (pure data).

The deterministic triage decides the category; this table gives the explanation that
stands when the model is unsure or contradicts a rule hit, and the words that reveal
which category a model's sentence talks about. The longer guide for people (and for the
index) is ``data/troubleshooting.md``, one section per category.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryGuide:
    """Plain-language knowledge about one failure category."""

    title: str
    cause: str
    fix: str
    keywords: tuple[str, ...]


GUIDE: dict[str, CategoryGuide] = {
    "missing_module": CategoryGuide(
        title="A Python module is missing in the job's environment",
        cause="The job's Python could not import {detail}: the package is not installed in "
        "the environment the job runs in (a different conda env, venv or module set than "
        "the notebook's), or the job script's `module load` or `conda activate` failed.",
        fix="Install the package into the job's environment (e.g. `pip install <package>` "
        "in that env), or activate the same environment in the job script "
        "(`extra_script`/`executable`), then resubmit.",
        keywords=("module", "import", "not installed", "package", "install"),
    ),
    "python_exception": CategoryGuide(
        title="The job's Python code raised an exception",
        cause="The code raised {detail}; the traceback's last frames show where.",
        fix="Reproduce the failing call locally with the same parameters, fix the code or "
        "its input, and resubmit the job.",
        keywords=("exception", "error", "raised", "traceback", "bug", "keyerror", "valueerror"),
    ),
    "out_of_memory": CategoryGuide(
        title="The job ran out of memory",
        cause="The job used more memory than it was allowed ({detail}), so the kernel or "
        "SLURM killed it (OOM).",
        fix="Request more memory (`--mem`/`--mem-per-cpu`, or `extra_scheduler` in "
        "adaptive-scheduler), use fewer cores per node, or reduce the problem size per job; "
        "for GPU memory `--mem` does not help: free the GPU or use smaller batches.",
        keywords=("memory", "oom", "out of memory", "ram", "allocate", "mem"),
    ),
    "time_limit": CategoryGuide(
        title="The job hit its wall-time limit",
        cause="The batch system stopped the job because it ran longer than its time limit "
        "({detail}).",
        fix="Request a longer `--time`, split the work into smaller jobs, or lower the "
        "learner's goal per job; make sure results are saved periodically (`save_interval`).",
        keywords=("time limit", "walltime", "wall time", "timeout", "too long", "--time"),
    ),
    "cancelled": CategoryGuide(
        title="The job was cancelled",
        cause="The job was cancelled from outside ({detail}): by `scancel`, an administrator, "
        "preemption, or adaptive-scheduler's kill manager.",
        fix="Check who cancelled it (`sacct -j <id> -o JobID,State,Reason`); if it was the "
        "kill manager, look at its `error` patterns; resubmit if it was unintentional.",
        keywords=("cancel", "scancel", "preempt", "killed by user"),
    ),
    "segfault": CategoryGuide(
        title="The process crashed with a segmentation fault",
        cause="Native code crashed ({detail}): usually a compiled extension built for another "
        "CPU/library version, a stack overflow, or a bug in C/C++/Fortran code.",
        fix="Rebuild or reinstall compiled packages for the cluster's nodes, match library "
        "versions between login and compute nodes, and run with `python -X faulthandler` "
        "to see the Python frame that crashed.",
        keywords=("segmentation", "segfault", "sigsegv", "core dump", "crash", "bus error"),
    ),
    "file_error": CategoryGuide(
        title="A file could not be read or written",
        cause="The job could not access a file ({detail}): a wrong path, missing permissions, "
        "a full disk or quota, or a file system not mounted on the compute node.",
        fix="Check the path exists on the compute node (absolute paths, shared file system), "
        "the permissions, and the quota (`df -h`, `quota`), then resubmit.",
        keywords=("file", "path", "permission", "directory", "quota", "disk", "no such"),
    ),
    "syntax_error": CategoryGuide(
        title="The Python code has a syntax error",
        cause="Python could not parse the code ({detail}), so the job stopped before running.",
        fix="Fix the line the error points at (run `python -m py_compile file.py` locally) "
        "and resubmit.",
        keywords=("syntax", "indent", "parse", "invalid syntax"),
    ),
    "gpu_error": CategoryGuide(
        title="A GPU/CUDA error stopped the job",
        cause="The GPU stack failed ({detail}): no GPU was allocated, a driver/CUDA mismatch, "
        "or a kernel error.",
        fix="Request GPUs (`--gres=gpu:1`), load the matching CUDA module, and check "
        "`nvidia-smi` on the node; rerun with `CUDA_LAUNCH_BLOCKING=1` to locate kernel errors.",
        keywords=("cuda", "gpu", "nccl", "driver", "device"),
    ),
    "mpi_error": CategoryGuide(
        title="An MPI error stopped the job",
        cause="The MPI layer failed ({detail}): a rank aborted, the launcher lost a process, "
        "or the launcher and the MPI library do not match.",
        fix="Look at the first rank that failed, make sure the MPI library used at run time "
        "is the one mpi4py was built against, and launch with `srun`/`mpirun` as the cluster "
        "documents (`srun --mpi=pmix` for an MPI built with SLURM's PMIx).",
        keywords=("mpi", "rank", "mpirun", "pmix", "orte"),
    ),
    "node_failure": CategoryGuide(
        title="The compute node failed",
        cause="The node running the job failed or stopped responding ({detail}); the job "
        "itself is likely fine.",
        fix="Resubmit the job (add `--requeue`), and tell the administrators if the same node "
        "fails repeatedly (`--exclude=<node>` meanwhile).",
        keywords=("node", "hardware", "not responding", "node fail"),
    ),
    "unknown": CategoryGuide(
        title="The job failed for a reason the rules do not recognise",
        cause="The log shows a failure ({detail}) but no known failure pattern.",
        fix="Read the lines around the key line; run the job's function locally with the "
        "same input to reproduce it.",
        keywords=(),
    ),
    "none": CategoryGuide(
        title="No failure found in the log",
        cause="The log shows no sign of a failure{detail}.",
        fix="Nothing to fix in this log; if the job was still marked failed, check the "
        "scheduler's accounting (`sacct`) and the other log files of the job.",
        keywords=(),
    ),
}


def guide_for(category: str) -> CategoryGuide:
    """The guide entry of ``category`` (``unknown`` for anything unrecognised)."""
    return GUIDE.get(category, GUIDE["unknown"])


def categories_mentioned(text: str) -> set[str]:
    """Categories whose tell-tale words occur in ``text`` (lower-cased substring match)."""
    lowered = text.lower()
    return {cat for cat, guide in GUIDE.items() if any(k in lowered for k in guide.keywords)}


# -- modules: what a missing name usually means (mirrored in data/troubleshooting.md) --------

PY3_STDLIB_SINCE: dict[str, str] = {
    "concurrent": "3.2",
    "faulthandler": "3.3",
    "ipaddress": "3.3",
    "lzma": "3.3",
    "venv": "3.3",
    "asyncio": "3.4",
    "enum": "3.4",
    "pathlib": "3.4",
    "selectors": "3.4",
    "statistics": "3.4",
    "tracemalloc": "3.4",
    "typing": "3.5",
    "secrets": "3.6",
    "contextvars": "3.7",
    "dataclasses": "3.7",
    "graphlib": "3.9",
    "zoneinfo": "3.9",
    "tomllib": "3.11",
}
"""Standard-library modules of Python 3 and the version that added them."""

PY2_MODULES: dict[str, str] = {
    "ConfigParser": "configparser",
    "Queue": "queue",
    "urllib2": "urllib.request",
    "urlparse": "urllib.parse",
    "cPickle": "pickle",
    "StringIO": "io",
    "cStringIO": "io",
    "Tkinter": "tkinter",
    "httplib": "http.client",
    "commands": "subprocess",
    "__builtin__": "builtins",
    "HTMLParser": "html.parser",
    "SocketServer": "socketserver",
    "xmlrpclib": "xmlrpc.client",
}
"""Python 2 module names and what Python 3 calls them."""

REMOVED_MODULES: dict[str, tuple[str, str]] = {
    "distutils": ("3.12", "install `setuptools`, which provides `distutils`"),
    "imp": ("3.12", "use `importlib`"),
    "asynchat": ("3.12", "use `asyncio`"),
    "asyncore": ("3.12", "use `asyncio`"),
    "smtpd": ("3.12", "install `aiosmtpd`"),
    "cgi": ("3.13", "use `email.message` or `multipart`"),
    "crypt": ("3.13", "use `hashlib` or install `bcrypt`"),
    "imghdr": ("3.13", "install `filetype`"),
    "pipes": ("3.13", "use `shlex` and `subprocess`"),
    "telnetlib": ("3.13", "install `telnetlib3`"),
}
"""Standard-library modules removed from Python: the version that removed them, the way out."""

PIP_NAMES: dict[str, str] = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "skimage": "scikit-image",
    "Bio": "biopython",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "dotenv": "python-dotenv",
    "Crypto": "pycryptodome",
    "serial": "pyserial",
    "zmq": "pyzmq",
    "jwt": "PyJWT",
    "MySQLdb": "mysqlclient",
    "pkg_resources": "setuptools",
}
"""Import names whose package on PyPI has another name."""
