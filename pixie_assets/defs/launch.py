"""Runs of the workspace's code location, executed synchronously in the calling process.

``execute_in_process`` records a run without a code-location origin, and the Dagster UI scopes
what it shows to a location: a job's Runs tab and the Jobs page ask for runs of the job tagged
``.dagster/repository=__repository__@<location>`` (a hidden tag Dagster's run storage derives
from the run's remote origin), and the Overview timeline places a run by its ``repositoryOrigin``.
Such runs were in the run history and nowhere else.

So a run is created here as the webserver creates a launched one: with the remote origin of the
``workspace.yaml`` location that loads the project's ``Definitions`` (the one ``make ui`` serves;
only its location and repository names reach the UI) and the python origin its code server
reports (module, attribute, working directory), which a run worker would load it from. It is
then executed as a run worker executes a run (``execute_run`` on the job reconstructed from that
python origin), but here and with the in-process executor: one process, as fast as before.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.code_pointer import CodePointer
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.execution.execute_in_process import merge_run_tags
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.workspace.load import location_origins_from_yaml_paths
from dagster._grpc.utils import get_loadable_targets

from pixie_assets.core.settings import PROJECT_ROOT

WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
DEFINITIONS_MODULE = "pixie_assets.definitions"
# The in-process choice of the default executor: every step in this process, as
# ``execute_in_process`` ran them (the default, multiprocess, starts one interpreter per step).
IN_PROCESS_EXECUTOR = {"execution": {"config": {"in_process": {}}}}


@dataclass(frozen=True)
class CodeLocation:
    """A code location of the workspace: the origin the UI knows it by, the repository a run
    worker reconstructs from it, and the ``Definitions`` object it loads."""

    origin: ManagedGrpcPythonEnvCodeLocationOrigin
    repository: ReconstructableRepository
    repository_name: str
    definitions: dg.Definitions

    @property
    def label(self) -> str:
        """What the UI filters a location's runs by (the ``.dagster/repository`` tag)."""
        return RemoteRepositoryOrigin(self.origin, self.repository_name).get_label()

    def remote_job_origin(self, job_name: str) -> RemoteJobOrigin:
        return RemoteRepositoryOrigin(self.origin, self.repository_name).get_job_origin(job_name)

    def job(self, job_name: str) -> ReconstructableJob:
        return self.repository.get_reconstructable_job(job_name)


def _module_origin(workspace: Path, module: str) -> ManagedGrpcPythonEnvCodeLocationOrigin:
    """The workspace file's location that loads ``module``, read as the webserver reads it."""
    for origin in location_origins_from_yaml_paths([str(workspace)]):
        if (
            isinstance(origin, ManagedGrpcPythonEnvCodeLocationOrigin)
            and origin.loadable_target_origin.module_name == module
        ):
            return origin
    raise ValueError(f"{workspace} has no python_module location loading {module}")


@functools.cache
def workspace_location(
    workspace: Path = WORKSPACE_FILE, module: str = DEFINITIONS_MODULE
) -> CodeLocation:
    """The location of ``workspace`` that loads ``module``, resolved as its code server resolves
    it (the same loadable target, so the same attribute and code pointer). Cached: the workspace
    file is read once per process."""
    origin = _module_origin(workspace, module)
    target_origin = origin.loadable_target_origin
    targets = get_loadable_targets(
        python_file=None,
        module_name=module,
        package_name=None,
        autoload_defs_module_name=None,
        working_directory=target_origin.working_directory,
        attribute=target_origin.attribute,
        resolve_lazy_defs=True,
    )
    if len(targets) != 1 or not isinstance(targets[0].target_definition, dg.Definitions):
        raise ValueError(f"{module} must define exactly one Definitions; found {len(targets)}")
    (target,) = targets
    pointer = CodePointer.from_module(module, target.attribute, target_origin.working_directory)
    repository = ReconstructableRepository(
        pointer, executable_path=target_origin.executable_path or sys.executable
    )
    return CodeLocation(
        origin=origin,
        repository=repository,
        repository_name=repository.get_definition().name,
        definitions=target.target_definition,
    )


def execute_in_location(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    job_name: str,
    *,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, object] | None = None,
    location: CodeLocation | None = None,
) -> dg.JobExecutionResult:
    """Create a run of ``job_name`` in ``location`` (default: the workspace's) as the UI launches
    one, with the partition's tags, and execute it here to its end. ``defs`` must be the
    location's own ``Definitions``: a run of other definitions would be shown as the location's.
    The result has ``success``, ``run_id`` and the materializations, like
    ``execute_in_process``'s."""
    location = location or workspace_location()
    if defs is not location.definitions:
        raise ValueError(
            f"these Definitions are not the ones code location {location.label} loads; "
            "their runs cannot be recorded as that location's"
        )
    job = location.job(job_name)
    job_def = job.get_definition()
    config = {**IN_PROCESS_EXECUTOR, **(run_config or {})}
    run = instance.create_run_for_job(
        job_def,
        run_config=config,
        # the job's run tags and the partition's, validated, as execute_in_process sets them
        tags=merge_run_tags(
            job_def=job_def,
            partition_key=partition_key,
            tags=tags,
            asset_selection=None,
            instance=instance,
            run_config=config,
        ),
        remote_job_origin=location.remote_job_origin(job_name),
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance)
