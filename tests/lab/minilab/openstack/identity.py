"""Keystone: its configuration and bootstrap, the service users, projects and catalog, the
credentials services authenticate with, and the REST client the bootstrap calls APIs with."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from ..config import LabConfig, LabError
from .apis import APIS, KEYSTONE_URL
from .database import db_url
from .processes import Step, bin_path

REGION = "RegionOne"

# (user, project, roles, secret name). The service users check tokens and call each other;
# nova's calls carry service tokens, which need the service role.
GRANTS = (
    *(
        (user, "service", ("admin", "service"), "service")
        for user in ("placement", "glance", "neutron", "nova")
    ),
    ("demo", "demo", ("member",), "demo"),
)


def keystone_conf(cfg: LabConfig) -> dict:
    keys = cfg.etc / "keystone"
    return {
        "database": {"connection": db_url(cfg, "keystone", "keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": keys / "fernet-keys"},
        "credential": {"key_repository": keys / "credential-keys"},
    }


def service_auth(cfg: LabConfig, user: str) -> dict:
    return {
        "auth_type": "password",
        "auth_url": KEYSTONE_URL,
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": user,
        "password": cfg.secret("service"),
        "region_name": REGION,
    }


def authtoken(cfg: LabConfig, user: str) -> dict:
    return {"www_authenticate_uri": KEYSTONE_URL, **service_auth(cfg, user)}


def bootstrap_steps(cfg: LabConfig) -> list[Step]:
    """Key repositories, schema, keystone's admin and its own catalog entry."""
    keystone = (
        bin_path(cfg, "keystone-manage"),
        "--config-file",
        str(cfg.etc / "keystone/keystone.conf"),
    )
    key_owner = ("--keystone-user", "root", "--keystone-group", "root")
    endpoints = [
        f"--bootstrap-{kind}-url={KEYSTONE_URL}" for kind in ("admin", "internal", "public")
    ]
    return [
        Step("keystone-fernet", (*keystone, "fernet_setup", *key_owner)),
        Step("keystone-credential", (*keystone, "credential_setup", *key_owner)),
        Step("keystone-db", (*keystone, "db_sync")),
        Step(
            "keystone-bootstrap",
            (*keystone, "bootstrap", *endpoints, f"--bootstrap-region-id={REGION}"),
            # From the environment, so that the password shows in no process list or log.
            env={"OS_BOOTSTRAP_PASSWORD": cfg.secret("admin")},
        ),
    ]


def catalog() -> list[tuple[str, str, str]]:
    return [(api.service, api.catalog_type, api.url) for api in APIS if api.catalog_type]


def ensure_identity(cfg: LabConfig) -> None:
    """Service users, the demo project and user, and the catalog, each created if missing."""
    admin = Rest(cfg)
    roles = {name: admin.ensure("roles", name=name) for name in ("admin", "member", "service")}
    for user, project, user_roles, secret in GRANTS:
        project_id = admin.ensure("projects", name=project, domain_id="default")
        user_id = admin.ensure(
            "users",
            {"password": cfg.secret(secret), "default_project_id": project_id},
            name=user,
            domain_id="default",
        )
        for role in user_roles:
            admin.call(
                "PUT", f"{KEYSTONE_URL}/projects/{project_id}/users/{user_id}/roles/{roles[role]}"
            )
    for service, catalog_type, url in catalog():
        service_id = admin.ensure("services", {"name": service}, type=catalog_type)
        for interface in ("public", "internal", "admin"):
            admin.ensure(
                "endpoints",
                {"url": url},
                service_id=service_id,
                interface=interface,
                region_id=REGION,
            )


class Rest:
    """Just enough of the OpenStack REST APIs for the bootstrap, as the lab's admin: the lab
    controller has no SDK."""

    def __init__(self, cfg: LabConfig):
        domain = {"id": "default"}
        user = {"name": "admin", "domain": domain, "password": cfg.secret("admin")}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": "admin", "domain": domain}},
        }
        self.token = None
        body, headers = self._send("POST", f"{KEYSTONE_URL}/auth/tokens", {"auth": auth})
        self.token = headers["X-Subject-Token"]
        self.project_id = body["token"]["project"]["id"]

    def call(self, method: str, url: str, body: dict | None = None) -> dict:
        return self._send(method, url, body)[0]

    def ensure(self, collection: str, extra: dict | None = None, **match: str) -> str:
        """The id of the first identity resource matching match, created if there is none."""
        query = urllib.parse.urlencode(match)
        found = self.call("GET", f"{KEYSTONE_URL}/{collection}?{query}")[collection]
        if found:
            return found[0]["id"]
        kind = collection[:-1]
        created = self.call(
            "POST", f"{KEYSTONE_URL}/{collection}", {kind: {**match, **(extra or {})}}
        )
        return created[kind]["id"]

    def _send(self, method: str, url: str, body: dict | None) -> tuple[dict, dict]:
        request = urllib.request.Request(  # noqa: S310 - loopback lab URLs only
            url,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"X-Auth-Token": self.token} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                payload = response.read()
                return (json.loads(payload) if payload else {}), dict(response.headers)
        except urllib.error.HTTPError as error:
            raise LabError(f"{method} {url} failed: {error.code} {error.read()[:500]!r}") from error
