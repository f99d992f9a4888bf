"""The router's control plane: the admin API and the services the data plane reads (see ``plane``)."""

from tollgate_router.admin.plane import ControlPlane, build_control_plane

__all__ = ["ControlPlane", "build_control_plane"]
