"""The duty officer's console in the browser: the queue board (live over `/api/stream`),
the incident page, the map, the bureau's figures and the admin page. A client of the API
like `lantian.client`, served from the package on the service's port."""

from lantian.console._map import known_drones, map_view
from lantian.console._pages import ASSETS, mount_console

__all__ = ["ASSETS", "known_drones", "map_view", "mount_console"]
