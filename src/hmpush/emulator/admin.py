"""The admin and inspection API (mounted under `/admin`): projects, apps, devices, requests,
faults and reset. Device state, inboxes and receipt settings live in `delivery.router`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hmpush.auth import VerificationKey
from hmpush.emulator.admin_schemas import (
    AcceptedRequestOut,
    AppId,
    DefaultsOut,
    FaultOut,
    StatusOut,
)
from hmpush.emulator.core import Emulator
from hmpush.emulator.faults import FaultRule
from hmpush.emulator.registry import AppRecord, DeviceRecord, ProjectRecord
from hmpush.emulator.serve import DEFAULTS_FILE_NAME

__all__ = ["router"]

router = APIRouter()


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublicKeyIn(_Strict):
    """A service-account public key to register (the caller keeps the private key)."""

    key_id: str = Field(min_length=1, max_length=200)
    sub_account: str = Field(min_length=1, max_length=200)
    public_key_pem: str = Field(min_length=1)


class ProjectIn(_Strict):
    """A project to create; without `public_key` the server generates a service account."""

    project_id: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[^\s/?#%]+$", description="Default: random."
    )
    key_bits: int = Field(2048, ge=2048, le=8192, description="RSA size of a generated key.")
    public_key: PublicKeyIn | None = None


class ProjectOut(BaseModel):
    """A project; `service_account` (Huawei's key-file JSON) only in the creation answer."""

    project_id: str
    push_enabled: bool
    penalty: bool
    key_ids: list[str]
    service_account: dict[str, str] | None = None


class ProjectPatch(_Strict):
    """Switches: Push Kit off answers 80300002, a penalty answers 80300037."""

    push_enabled: bool | None = None
    penalty: bool | None = None


class AppIn(_Strict):
    """An app; rights left out are granted in full."""

    bundle_name: str | None = Field(None, min_length=1, max_length=128)
    push_types: list[int] | None = Field(None, description="Granted push-types (default all).")
    categories: list[str] | None = Field(None, description="Granted categories (default all).")
    live_view_events: list[str] | None = Field(
        None, description="Granted live-view events (default all)."
    )


class AppPatch(AppIn):
    """Changes to an app; fields left out stay as they are."""


class AppOut(BaseModel):
    """An app and its rights."""

    app_id: int
    project_id: str
    bundle_name: str
    push_types: list[int]
    categories: list[str]
    live_view_events: list[str]


class DevicesIn(_Strict):
    """How many devices to register."""

    count: int = Field(1, ge=1, le=100_000)


class DeviceOut(BaseModel):
    """A virtual device and its push token."""

    device_id: int
    token: str
    app_id: int
    project_id: str


class DevicesOut(BaseModel):
    """Registered devices; `tokens` lists their tokens in the same order."""

    devices: list[DeviceOut]
    tokens: list[str]


def _project_out(project: ProjectRecord, account: dict[str, str] | None = None) -> ProjectOut:
    return ProjectOut(
        project_id=project.project_id,
        push_enabled=project.push_enabled,
        penalty=project.penalty,
        key_ids=list(project.key_ids),
        service_account=account,
    )


def _app_out(app: AppRecord) -> AppOut:
    return AppOut.model_validate(app.to_dict())


def _device_out(device: DeviceRecord) -> DeviceOut:
    return DeviceOut(
        device_id=device.device_id,
        token=device.token,
        app_id=device.app_id,
        project_id=device.project_id,
    )


@router.get("/health", tags=["admin"], summary="Readiness probe", response_model=StatusOut)
def health() -> dict[str, str]:
    """`{"status": "ok"}` once the server answers."""
    return {"status": "ok"}


@router.get(
    "/defaults",
    tags=["admin"],
    summary="The default project and app",
    response_model=DefaultsOut,
)
def defaults(request: Request) -> dict[str, Any]:
    """The data directory's default project and app (else the oldest app), for device tools."""
    emulator = _emulator(request)
    data_dir = emulator.config.data_dir
    saved = data_dir / DEFAULTS_FILE_NAME if data_dir is not None else None
    if saved is not None and saved.exists():
        chosen = json.loads(saved.read_text("utf-8"))
        return {"project_id": chosen["project_id"], "app_id": chosen["app_id"]}
    apps = emulator.list_apps()
    if not apps:
        raise HTTPException(404, "no app exists yet; create a project and an app first")
    return {"project_id": apps[0].project_id, "app_id": apps[0].app_id}


@router.post("/projects", status_code=201, tags=["admin"], summary="Create a project")
def create_project(body: ProjectIn, request: Request) -> ProjectOut:
    """Create a project; answers with a service-account key file unless a public key is given."""
    emulator = _emulator(request)
    public_key = None
    if body.public_key is not None:
        project_id = body.project_id
        if project_id is None:
            raise HTTPException(400, "project_id is required when public_key is given")
        public_key = VerificationKey(project_id, **body.public_key.model_dump())
    created = emulator.create_project(
        body.project_id, key_bits=body.key_bits, public_key=public_key
    )
    account = created.service_account
    return _project_out(created.project, account.to_dict() if account is not None else None)


@router.get("/projects", tags=["admin"], summary="List projects")
def list_projects(request: Request) -> list[ProjectOut]:
    """Every project."""
    return [_project_out(project) for project in _emulator(request).list_projects()]


@router.get("/projects/{project_id}", tags=["admin"], summary="Read a project")
def get_project(project_id: str, request: Request) -> ProjectOut:
    """One project."""
    return _project_out(_emulator(request).get_project(project_id))


@router.patch("/projects/{project_id}", tags=["admin"], summary="Switch Push Kit or a penalty")
def patch_project(project_id: str, body: ProjectPatch, request: Request) -> ProjectOut:
    """Change a project's switches."""
    project = _emulator(request).update_project(project_id, **body.model_dump())
    return _project_out(project)


@router.post(
    "/projects/{project_id}/keys", status_code=201, tags=["admin"], summary="Add a public key"
)
def add_key(project_id: str, body: PublicKeyIn, request: Request) -> ProjectOut:
    """Register another service-account public key for a project."""
    key = VerificationKey(project_id, **body.model_dump())
    return _project_out(_emulator(request).add_key(key))


@router.post(
    "/projects/{project_id}/apps", status_code=201, tags=["admin"], summary="Create an app"
)
def create_app_route(project_id: str, body: AppIn, request: Request) -> AppOut:
    """Create an app of a project with the given (default: all) rights."""
    return _app_out(_emulator(request).create_app(project_id, **body.model_dump()))


@router.get("/projects/{project_id}/apps", tags=["admin"], summary="List a project's apps")
def list_apps(project_id: str, request: Request) -> list[AppOut]:
    """Apps of a project."""
    emulator = _emulator(request)
    emulator.get_project(project_id)
    return [_app_out(app) for app in emulator.list_apps(project_id)]


@router.get("/apps/{app_id}", tags=["admin"], summary="Read an app")
def get_app(app_id: AppId, request: Request) -> AppOut:
    """One app and its rights."""
    return _app_out(_emulator(request).get_app(app_id))


@router.patch("/apps/{app_id}", tags=["admin"], summary="Change an app's name or rights")
def patch_app(app_id: AppId, body: AppPatch, request: Request) -> AppOut:
    """Change an app; fields left out stay."""
    changes = body.model_dump(exclude_none=True)
    return _app_out(_emulator(request).update_app(app_id, **changes))


@router.post("/apps/{app_id}/devices", status_code=201, tags=["admin"], summary="Register devices")
def create_devices(app_id: AppId, body: DevicesIn, request: Request) -> DevicesOut:
    """Register devices of an app; answers with their tokens."""
    devices = _emulator(request).create_devices(app_id, body.count)
    return DevicesOut(
        devices=[_device_out(device) for device in devices],
        tokens=[device.token for device in devices],
    )


@router.get("/apps/{app_id}/devices", tags=["admin"], summary="List an app's devices")
def list_devices(
    app_id: AppId, request: Request, limit: int = Query(1000, ge=1, le=100_000)
) -> DevicesOut:
    """Devices of an app, oldest first, with their tokens."""
    devices = _emulator(request).list_devices(app_id, limit=limit)
    return DevicesOut(
        devices=[_device_out(device) for device in devices],
        tokens=[device.token for device in devices],
    )


@router.get(
    "/requests",
    tags=["admin"],
    summary="List accepted requests, newest first",
    response_model=list[AcceptedRequestOut],
)
def list_requests(
    request: Request,
    project_id: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """Accepted send requests (refused ones are never stored)."""
    return _emulator(request).list_requests(project_id, limit=limit)


@router.post(
    "/reset", tags=["admin"], summary="Forget all traffic and devices", response_model=StatusOut
)
def reset(request: Request) -> dict[str, str]:
    """Delete requests, devices, inboxes, quota counters, receipts and faults, and set the
    devices' clock back to now; keep projects, keys, apps and settings (quota settings, receipt
    configurations and retry settings)."""
    _emulator(request).reset()
    return {"status": "reset"}


@router.post(
    "/faults",
    status_code=201,
    tags=["faults"],
    summary="Add a fault rule",
    response_model=FaultOut,
)
def add_fault(rule: FaultRule, request: Request) -> dict[str, Any]:
    """Add a deterministic fault for `messages:send`; answers with the rule and its id."""
    return _emulator(request).faults.add(rule)


@router.get(
    "/faults", tags=["faults"], summary="List active fault rules", response_model=list[FaultOut]
)
def list_faults(request: Request) -> list[dict[str, Any]]:
    """Active rules with how often each matched (`seen`) and fired."""
    return _emulator(request).faults.list()


@router.delete(
    "/faults", tags=["faults"], summary="Remove every fault rule", response_model=StatusOut
)
def clear_faults(request: Request) -> dict[str, str]:
    """Remove all rules."""
    _emulator(request).faults.clear()
    return {"status": "cleared"}


@router.delete(
    "/faults/{rule_id}",
    tags=["faults"],
    summary="Remove one fault rule",
    response_model=StatusOut,
)
def remove_fault(rule_id: int, request: Request) -> dict[str, str]:
    """Remove a rule by id."""
    if not _emulator(request).faults.remove(rule_id):
        raise HTTPException(404, f"no active fault rule {rule_id}")
    return {"status": "removed"}
