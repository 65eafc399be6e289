"""Websocket routes and the origin check guarding them."""

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from .consumers import OrdersConsumer

websocket_urlpatterns = [path("ws/orders/", OrdersConsumer.as_asgi())]


class BrowserOriginValidator(OriginValidator):
    """Reject cross-site browser connections; allow clients that send no Origin (not browsers).

    Browsers always send Origin on websocket handshakes, so this still prevents cross-site
    websocket hijacking while letting scripts and monitoring probes connect.
    """

    def __init__(self, application) -> None:
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)
