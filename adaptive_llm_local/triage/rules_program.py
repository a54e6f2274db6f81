"""Rules for what the job's own programs print: Python, native crashes, Fortran runtimes,
shells, the dynamic loader, module systems and environment activation.

Each rule that was written from a tool's message cites it; the test lines in
``tests/test_triage_catalogue.py`` fill the placeholders with other values.
"""

from __future__ import annotations

from adaptive_llm_local.triage.rule import Rule, exc

EXCEPTION_RULES: tuple[Rule, ...] = (
    Rule(
        "exc-circular-import",
        "python_exception",
        86,
        r"^ImportError: cannot import name .*(?:circular import|partially initialized)",
        scope="exception",
    ),
    Rule(
        "exc-syntax",
        "syntax_error",
        85,
        exc("SyntaxError|IndentationError|TabError"),
        scope="exception",
    ),
    # XLA/JAX: "RESOURCE_EXHAUSTED: Out of memory while trying to allocate %d bytes";
    # torch DataLoader: "DataLoader worker (pid %d) is killed by signal: Killed.", "...
    # out of shared memory"
    Rule(
        "exc-memory",
        "out_of_memory",
        84,
        exc(r"MemoryError|_ArrayMemoryError|OutOfMemoryError|ResourceExhaustedError")
        + r"|CUDA out of memory|[Uu]nable to allocate|std::bad_alloc|\b[Oo]ut of memory\b"
        r"|RESOURCE_EXHAUSTED|killed by signal: Killed|out of shared memory",
        scope="exception",
    ),
    Rule(
        "exc-import",
        "missing_module",
        83,
        exc("ModuleNotFoundError|ImportError") + r"|cannot open shared object file",
        scope="exception",
    ),
    # HDF5 H5FD: "unable to lock file, errno = %d, error message = '%s'"
    Rule(
        "exc-file",
        "file_error",
        81,
        exc(
            "FileNotFoundError|PermissionError|IsADirectoryError|NotADirectoryError|FileExistsError"
        )
        + r"|\[Errno (?:2|5|13|17|20|21|28|30|116|122)\]|No space left on device"
        r"|Disk quota exceeded|Read-only file system"
        r"|[Uu]nable to (?:synchronously )?(?:open|create) file|unable to lock file"
        r"|No such file or directory|Stale file handle",
        scope="exception",
    ),
    # torch DataLoader: "DataLoader worker (pid %d) is killed by signal: %s."
    Rule(
        "exc-native-signal",
        "segfault",
        79,
        r"killed by signal: (?:Segmentation fault|Bus error|Aborted|Illegal instruction"
        r"|Floating point exception)",
        scope="exception",
    ),
    Rule(
        "exc-keyboard-interrupt",
        "cancelled",
        75,
        exc("KeyboardInterrupt"),
        scope="exception",
        summary="KeyboardInterrupt: the program was interrupted",
        note="interrupted by SIGINT (Ctrl-C or a signal from the scheduler)",
    ),
    Rule("exc-any", "python_exception", 70, r"", scope="exception"),
)

NATIVE: tuple[Rule, ...] = (
    # gfortran libgfortran: "Allocation would exceed memory limit", "Error allocating %lu
    # bytes"; ifort: "forrtl: severe (41): insufficient virtual memory"; NCCL "Cuda failure
    # %d 'out of memory'"; CUDA "CUDA error: out of memory"; XLA RESOURCE_EXHAUSTED
    Rule(
        "bad-alloc",
        "out_of_memory",
        78,
        r"std::bad_alloc|[Uu]nable to allocate \S+ \w+ for an array|CUDA out of memory"
        r"|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY|CUDA error: out of memory"
        r"|Cuda failure \d* ?'out of memory'|RESOURCE_EXHAUSTED: Out of memory"
        r"|Allocation would exceed memory limit|Error allocating \d+ bytes"
        r"|forrtl: severe \(41\)",
        keywords=(
            "bad_alloc",
            "unable to allocate",
            "out of memory",
            "memoryallocation",
            "out_of_memory",
            "exceed memory limit",
            "error allocating",
            "severe (41)",
        ),
    ),
    Rule(
        "fatal-python-error",
        "segfault",
        77,
        r"^Fatal Python error: (?:Segmentation fault|Bus error|Floating point exception"
        r"|Illegal instruction|Aborted)",
        keywords=("fatal python error",),
    ),
    # gfortran: "Program received signal SIGSEGV: Segmentation fault - invalid memory
    # reference."; ifort: "forrtl: severe (174): SIGSEGV, segmentation fault occurred";
    # the kernel: "%s[%d]: segfault at %lx ip %px sp %px error %lx in %s"
    Rule(
        "sigsegv",
        "segfault",
        76,
        r"Segmentation fault|\bSIGSEGV\b|signal 11\b|\bBus error\b|\bSIGBUS\b|signal 7\b"
        r"|Illegal instruction|\bSIGILL\b|\bsegfault at [0-9a-f]+ ip ",
        keywords=(
            "segmentation",
            "sigsegv",
            "signal 11",
            "bus error",
            "sigbus",
            "signal 7",
            "illegal instruction",
            "sigill",
            "segfault at",
        ),
    ),
    Rule(
        "c-assert",
        "segfault",
        75,
        r"Assertion [`'][^\n]{0,500}' failed\.?$",
        keywords=("assertion",),
    ),
    # glibc malloc.c / fortify: "*** stack smashing detected ***: terminated", "*** buffer
    # overflow detected ***", "double free or corruption (%s)", "free(): invalid pointer",
    # "malloc(): corrupted top size", "corrupted size vs. prev_size", "munmap_chunk():
    # invalid pointer"
    Rule(
        "glibc-abort",
        "segfault",
        74,
        r"\*\*\* (?:stack smashing|buffer overflow) detected \*\*\*|double free or corruption"
        r"|free\(\): invalid (?:pointer|size|next size)|malloc\(\): (?:corrupted|memory "
        r"corruption|invalid)|corrupted size vs\. prev_size|munmap_chunk\(\): invalid pointer",
        keywords=(
            "detected ***",
            "double free",
            "free():",
            "malloc():",
            "corrupted size",
            "munmap_chunk",
        ),
    ),
    Rule(
        "sigabrt",
        "segfault",
        73,
        r"\bAborted\b|\bSIGABRT\b|signal 6\b|Floating point exception|\bSIGFPE\b",
        keywords=("aborted", "sigabrt", "signal 6", "floating point exception", "sigfpe"),
    ),
)

ENVIRONMENT: tuple[Rule, ...] = (
    Rule(
        "no-module-line",
        "missing_module",
        64,
        r"(?:\((?P<exc>ModuleNotFoundError|ImportError): )?No module named ['\"]?[\w.]+",
        keywords=("no module named",),
    ),
    # ld.so: "%s: error while loading shared libraries: %s: cannot open shared object file";
    # dlopen through Python: "ImportError: %s: cannot open shared object file: ..."
    Rule(
        "shared-library",
        "missing_module",
        64,
        r"error while loading shared libraries: \S+: cannot open shared object file"
        r"|^(?P<exc>ImportError|OSError): \S{1,300}: cannot open shared object file",
        keywords=("shared libraries", "shared object file"),
    ),
    # Lmod messageDir/en.lua: errTitle "Lmod has detected the following error: ",
    # e_Failed_Load "The following module(s) are unknown: %{module_list}", e_Failed_Load_2
    # "These module(s) or extension(s) exist but cannot be loaded as requested: %{kA}",
    # e_Prereq "Cannot load module "%{name}" without these module(s) loaded:", e_Conflict
    # "Cannot load module "%{name}" because these module(s) are loaded:"; Environment
    # Modules: "ERROR: Unable to locate a modulefile for '%s'" (3.2:
    # "ModuleCmd_Load.c(%d):ERROR:105: Unable to locate a modulefile for '%s'")
    Rule(
        "lmod-unknown",
        "missing_module",
        64,
        r"Lmod has detected the following error|module\(s\) are unknown"
        r"|Unable to locate a modulefile|exist but cannot be loaded as requested"
        r"|Cannot load module \"[^\"\n]{1,200}\" (?:without|because) these module",
        keywords=(
            "lmod",
            "module(s) are unknown",
            "modulefile",
            "cannot be loaded",
            "cannot load module",
        ),
        setup=True,
    ),
    # conda exceptions.py: CondaError "Run 'conda init' before 'conda activate'",
    # CommandNotFoundError "Your shell has not been properly configured to use 'conda
    # activate'.", EnvironmentNameNotFound "Could not find conda environment: %s",
    # EnvironmentLocationNotFound "Not a conda environment: %s"; a shell without the
    # module, conda or mamba command; a virtualenv's activate script that is not there
    # (bash "%s: line %d: %s: No such file or directory", dash ".: %d: Can't open %s",
    # zsh "source: no such file or directory: %s")
    Rule(
        "environment-setup",
        "missing_module",
        64,
        r"Run '(?:conda|mamba) init' before|not been properly configured to use '(?:conda|mamba)"
        r" activate'|Could not find conda environment: \S|Not a conda environment: \S"
        r"|(?:^|: )(?:module|ml|conda|mamba|micromamba|activate|source): (?:command )?not found$"
        r"|(?:bin/activate|conda\.sh)(?:\.\w{1,5})?: No such file or directory"
        r"|(?:source|\.): (?:\d+: )?(?:[Cc]an't open|no such file or directory:) \S",
        keywords=("conda", "mamba", "not found", "activate", "can't open", "no such file"),
        setup=True,
    ),
    Rule(
        "command-not-found",
        "missing_module",
        63,
        r": command not found$",
        keywords=("command not found",),
    ),
    Rule(
        "shell-syntax",
        "syntax_error",
        63,
        r": line \d+: syntax error(?:: unexpected end of file| near unexpected token)",
        keywords=("syntax error",),
    ),
    # srun "task %s: Killed" (strsignal(SIGKILL)); torch elastic "Signal 9 (SIGKILL)
    # received by PID %d", "failed (exitcode: -9)"
    Rule(
        "killed",
        "out_of_memory",
        60,
        r"\b\d+ Killed\b|^Killed$|exited on signal 9 \(Killed\)|tasks? [\d,\-\[\]]+: Killed$"
        r"|Signal 9 \(SIGKILL\) received by PID|failed \(exitcode: -9\)",
        summary="process killed by SIGKILL (usually the out-of-memory killer)",
        note="killed by SIGKILL; without a SLURM message this is usually the kernel's "
        "out-of-memory killer",
        keywords=("killed", "sigkill", "exitcode: -9"),
    ),
    # HDF5 H5FDsec2/H5FDcore: "unable to lock file, errno = %d, error message = '%s'"
    Rule(
        "hdf5-lock",
        "file_error",
        59,
        r"unable to lock file, errno = \d+",
        keywords=("unable to lock file",),
    ),
    Rule(
        "file-line",
        "file_error",
        58,
        r"can't open file [^\n]{0,500}?\[Errno \d+\]|No space left on device|Disk quota exceeded"
        r"|Read-only file system|: Permission denied$|: No such file or directory$"
        r"|Stale file handle|Unable to open file",
        keywords=(
            "can't open file",
            "no space left",
            "quota",
            "read-only file system",
            "permission denied",
            "no such file",
            "stale file",
            "unable to open file",
        ),
    ),
    # gfortran libgfortran runtime/error.c "Fortran runtime error: %s" with "Cannot open
    # file '%s': %s", "File '%s' does not exist", "End of file"; ifort "forrtl: severe
    # (%d): ..." with 9 permission denied, 10 cannot overwrite, 24 end-of-file during read,
    # 29 file not found, 30 open failure, 43 file name specification error
    Rule(
        "fortran-file",
        "file_error",
        59,
        r"Fortran runtime error: (?:Cannot open file|File '[^'\n]{1,300}' does not exist"
        r"|End of file)|forrtl: severe \((?:9|10|24|29|30|43)\)",
        keywords=("fortran runtime error", "forrtl"),
    ),
)

SIGNS: tuple[Rule, ...] = (
    # any other gfortran or ifort run-time error (bounds checks, allocation state, ...)
    Rule(
        "fortran-error",
        "unknown",
        39,
        r"Fortran runtime error: \S|forrtl: severe \(\d+\)",
        keywords=("fortran runtime error", "forrtl"),
    ),
    Rule(
        "terminated",
        "unknown",
        22,
        r"\b\d+ Terminated\b|^Terminated$|tasks? [\d,\-\[\]]+: Terminated$",
        note="terminated by SIGTERM",
        keywords=("terminated",),
    ),
    Rule(
        "error-prefix",
        "unknown",
        20,
        r"^[ \t]*(?:ERROR|Error|error|FATAL|Fatal|fatal)[ \t]*:",
        keywords=("error", "fatal"),
    ),
    Rule(
        "adaptive-runner-failed",
        "unknown",
        18,
        r'"status": "failed"',
        keywords=('"status": "failed"',),
    ),
    Rule(
        "exit-code",
        "unknown",
        15,
        r"\bexit(?:ed with)? (?:code|status)[ :=]*[1-9]\d*\b",
        keywords=("exit",),
    ),
    Rule(
        "error-level",
        "unknown",
        12,
        r"(?<![\w\-])(?:ERROR|FATAL|CRITICAL)(?![\w\-])",
        keywords=("error", "fatal", "critical"),
    ),
)
