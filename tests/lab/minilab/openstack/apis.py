"""The OpenStack APIs, each served by uwsgi from the venv, and their readiness check."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from ..config import HOST, PORTS, LabConfig
from ..supervisor import Ready
from .processes import Service, bin_path


@dataclass(frozen=True)
class Api:
    """An OpenStack API served by uwsgi from the venv."""

    service: str  # its PORTS key and etc/ directory
    module: str  # the module defining the WSGI ``application``
    config_env: str  # the variable telling the module where its configuration is
    paste: str | None = None  # a paste file the service expects beside its configuration
    catalog_type: str | None = None  # keystone's own entry comes from keystone-manage bootstrap
    path: str = ""  # appended to the port's URL in the catalog
    uwsgi_extra: tuple[str, ...] = ()
    after_load: str | None = None  # Python run once the application is imported

    @property
    def name(self) -> str:
        return f"{self.service}-api"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{PORTS[self.service]}{self.path}"


APIS = (
    Api("keystone", "keystone.wsgi.api", "OS_KEYSTONE_CONFIG_DIR", path="/v3"),
    Api("placement", "placement.wsgi.api", "OS_PLACEMENT_CONFIG_DIR", catalog_type="placement"),
    Api(
        "glance",
        "glance.wsgi.api",
        "OS_GLANCE_CONFIG_DIR",
        paste="glance-api-paste.ini",
        catalog_type="image",
        # Image uploads arrive chunked and glance reads the raw body itself. With a raw body
        # uwsgi's router cannot keep a connection alive, yet does not say so: clients reused
        # the closed connection and failed now and then with RemoteDisconnected. Saying
        # "Connection: close" makes them open a new one for each request.
        uwsgi_extra=("--http-chunked-input", "--http-raw-body", "--add-header", "Connection: close"),
    ),
    Api(
        "neutron",
        "neutron.wsgi.api",
        "OS_NEUTRON_CONFIG_DIR",
        paste="api-paste.ini",
        catalog_type="network",
        # Without agents nothing configures SQLAlchemy's mappers in the API process, and
        # listing ports fails with "Port has no attribute port_forwardings".
        after_load="import sqlalchemy.orm; sqlalchemy.orm.configure_mappers()",
    ),
    Api(
        "nova",
        "nova.wsgi.osapi_compute",
        "OS_NOVA_CONFIG_DIR",
        paste="api-paste.ini",
        catalog_type="compute",
        path="/v2.1",
    ),
)
_URLS = {api.service: api.url for api in APIS}
KEYSTONE_URL = _URLS["keystone"]
NOVA_URL = _URLS["nova"]


def api_service(cfg: LabConfig, api: Api) -> Service:
    if api.after_load:
        entry = ("--eval", f"from {api.module} import application; {api.after_load}")
    else:
        entry = ("--module", f"{api.module}:application")
    argv = (
        bin_path(cfg, "uwsgi"),
        "--master",
        "--die-on-term",  # uwsgi's master otherwise takes SIGTERM as "reload"
        # nova's worker keeps non-daemon threads that Python's teardown would wait for.
        "--skip-atexit-teardown",
        "--need-app",
        "--processes", "1",
        "--threads", "4",
        "--http", f"{HOST}:{PORTS[api.service]}",
        # --http-socket resets connections that clients keep alive.
        "--http-keepalive",
        # The default 4 KiB is too small once nova asks neutron about many ports at once.
        "--buffer-size", "65535",
        "--procname-prefix-spaced", f"lab-{api.name}",
        *entry,
        *api.uwsgi_extra,
    )  # fmt: skip
    return Service(
        api.name,
        argv,
        _answers_below_500(api.url),
        url=api.url,
        env={api.config_env: str(cfg.etc / api.service)},
    )


def _answers_below_500(url: str) -> Ready:
    # Any answer is not enough: nova serves a 500 stub when its setup fails.
    def check(_output: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback lab URLs
                return True
        except urllib.error.HTTPError as error:
            return error.code < 500
        except (urllib.error.URLError, OSError):
            return False

    return Ready(f"{url} answering below 500", check)
