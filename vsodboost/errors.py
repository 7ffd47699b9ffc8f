"""Typed errors of vsodboost.

Every error a user can trigger derives from :class:`VsodboostError` and from the matching builtin
(``ValueError``, ``KeyError``, ``FileNotFoundError``...), so callers can catch either. Messages say what was
received, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "VsodboostError",
    "InputError",
    "UnknownNameError",
    "DuplicateNameError",
    "WeightsError",
    "MissingWeightsError",
    "ChecksumError",
    "TargetError",
    "PluginError",
    "MissingExtraError",
    "MissingMapsError",
    "NoMatchingMapsError",
    "OutputError",
    "OutputLockedError",
    "ResumeError",
    "UsageError",
]


class VsodboostError(Exception):
    """Base class of all vsodboost errors."""

    exit_code = 1  # what the command line exits with when this error reaches it


class InputError(VsodboostError, ValueError):
    """An input (video, frame, map, folder, option) is not what the SDK expects."""


class UnknownNameError(VsodboostError, KeyError):
    """A registry lookup used a name nobody registered. The message lists the available names. On the command
    line it is a usage error (``--target``, ``--flow``, ``--spatial``… name a component): exit status 2."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(VsodboostError, ValueError):
    """A component was registered twice under the same name."""


class WeightsError(VsodboostError, RuntimeError):
    """A checkpoint does not match the model it is loaded into (the message carries the key diff)."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """Weights are not available locally and could not be downloaded (the message names the file and folder)."""


class ChecksumError(WeightsError):
    """A weight file's sha256 differs from the published one."""


class TargetError(VsodboostError, ValueError):
    """A target model returned something that breaks the :class:`~vsodboost.TargetModel` contract."""


class PluginError(VsodboostError, RuntimeError):
    """A plugin broke the registration protocol."""


class MissingMapsError(VsodboostError, FileNotFoundError):
    """A maps-mode adapter cannot find the published maps (the message says what to download and where)."""


class MissingExtraError(VsodboostError, ImportError):
    """An option needs an optional dependency that is not installed; the message names the extra to install
    (e.g. ``pip install "vsodboost[ray]"`` for ``--engine ray``)."""


class NoMatchingMapsError(TargetError):
    """The target gave no map for any frame of a sequence (maps absent, or named unlike the frames); a run over a
    folder of sequences skips such a sequence (``vsodboost boost`` exits with status 3)."""


class OutputError(VsodboostError, OSError):
    """An output (folder, map, JSON) cannot be written: the message names the path and the reason (read-only,
    not a folder, disk full). No partial file is left behind."""


class OutputLockedError(OutputError):
    """Another vsodboost run holds the output folder's lock (``another vsodboost run is writing to DIR (pid N)``):
    two writers would remove each other's temporary files and mix their maps."""


class ResumeError(InputError):
    """An output folder holds results made with other settings; the message says which setting differs."""


class UsageError(InputError):
    """A command-line option or ``--config`` file is invalid (the command line exits with status 2)."""

    exit_code = 2
