"""Websocket consumer for `/ws/orders/`: pushes `sale.recorded` events to every client."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

ORDERS_GROUP = "orders"


class OrdersConsumer(AsyncJsonWebsocketConsumer):
    """Joins the `orders` group on connect and relays each recorded sale as JSON."""

    async def connect(self) -> None:
        await self.channel_layer.group_add(ORDERS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(ORDERS_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """Clients only listen; answer a ping so they can check the socket is alive."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def sale_recorded(self, event: dict) -> None:
        """Handler for group messages of type `sale.recorded`."""
        await self.send_json(
            {
                "type": "sale.recorded",
                "sale_id": event["sale_id"],
                "total": event["total"],
                "payment": event["payment"],
            }
        )
