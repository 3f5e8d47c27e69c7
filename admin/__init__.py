"""Web admin console of the one-stop centre, served by the gateway under ``/admin``."""

from admin.app import create_admin_app, mount_admin
from admin.routes import ROUTES

__all__ = ["ROUTES", "create_admin_app", "mount_admin"]
