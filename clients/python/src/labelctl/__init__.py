"""A typed Python client for the labeling marketplace API, and the `labelctl` CLI on top of it.

    from labelctl import Client, NotFound
    with Client("http://localhost:8000", api_key="mk_...") as client:
        for project in client.projects.list():
            print(project["id"], project["status"])
"""
from labelctl._http import NO_RETRIES, VERSION, Retries
from labelctl.client import Client
from labelctl.errors import (
    ApiError,
    AuthenticationError,
    BadRequest,
    Conflict,
    FileFormatError,
    LabelctlError,
    NetworkError,
    NotFound,
    PaymentRequired,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
)
from labelctl.importing import ImportProgress
from labelctl.jobs import JobFailed
from labelctl.projects import Progress

__version__ = VERSION
__all__ = [
    "NO_RETRIES",
    "ApiError",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "FileFormatError",
    "ImportProgress",
    "JobFailed",
    "LabelctlError",
    "NetworkError",
    "NotFound",
    "PaymentRequired",
    "PermissionDenied",
    "Progress",
    "RateLimited",
    "Retries",
    "ServerError",
    "ValidationError",
    "__version__",
]
