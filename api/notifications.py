"""The notification outbox for operators: what was sent to citizens, what waits, what failed, and a retry of a
failed one. Mounted by ``api.app.create_app``."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BearerPerson, require_role
from dossiers.model import Role
from services.notifications import build_dispatcher, list_notifications, requeue_notification


def notifications_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter()

    @router.get("/api/notifications", tags=["operations"])
    def notifications(
        person: BearerPerson,
        status: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed)$")] = None,
        dossier_code: str | None = None,
    ) -> list[dict[str, Any]]:
        """The outbox: what was sent to citizens, what is waiting and what failed (with the error)."""
        require_role(
            person, (Role.ADMIN, Role.AUDITOR), "Chỉ quản trị viên hoặc thanh tra.", "Admins and auditors only."
        )
        return list_notifications(runtime.db, status=status, dossier_code=dossier_code)

    @router.post("/api/notifications/{notification_id}/retry", tags=["operations"])
    def retry_notification(notification_id: str, person: BearerPerson) -> dict[str, Any]:
        """After the cause is fixed (gateway, address): a failed notification gets fresh attempts."""
        require_role(person, (Role.ADMIN,), "Chỉ quản trị viên.", "Admins only.")
        dispatcher = build_dispatcher(runtime.settings, runtime.db, runtime.clock, shop.record)
        requeue_notification(dispatcher, shop.record, person, notification_id)
        return {"id": notification_id, "status": "pending"}

    return router
