"""Web admin console of the one-stop centre, served by the gateway under ``/admin``."""

from admin.app import ROUTES, create_admin_app, mount_admin

__all__ = ["ROUTES", "create_admin_app", "mount_admin"]
