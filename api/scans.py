"""Digitised papers: the scan of a required paper, stored with an electronic copy the agency signs ("SAO Y",
Decree 30). Mounted by ``api.app.create_app``."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import BearerPerson
from api.openapi import multipart
from dossiers.errors import InvalidInput
from services.digitise import Digitiser
from services.uploads import Upload


def scans_router(runtime: Any) -> APIRouter:
    router = APIRouter()
    digitiser = Digitiser(
        runtime.db,
        runtime.store,
        runtime.shop,
        runtime.paperwork.issuer.signer,
        max_file_bytes=runtime.settings.max_upload_bytes,
    )

    @router.post(
        "/api/dossiers/{code}/scans",
        status_code=201,
        tags=["dossiers"],
        openapi_extra=multipart(
            {"paper_key": {"type": "string", "maxLength": 80}, "file": {"type": "string", "format": "binary"}},
            ["paper_key", "file"],
            "The scan (PDF) of one required paper.",
        ),
    )
    async def scan_paper(code: str, request: Request, person: BearerPerson) -> dict[str, Any]:
        """Multipart form: `paper_key` (which required paper) and `file` (the scan, PDF). The scan is stored
        and an electronic copy signed by the agency ("SAO Y", Decree 30) is issued as document `scan_copy`."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise InvalidInput("Gửi bản quét dạng multipart/form-data.", "Send the scan as multipart/form-data.")
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        paper_key = str(form.get("paper_key") or "").strip()
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Cần tải lên bản quét (trường 'file').", "Upload the scan in the form field 'file'.")
        if not paper_key:
            raise InvalidInput("Thiếu mã giấy tờ (trường 'paper_key').", "The form field 'paper_key' is required.")
        try:
            return await run_in_threadpool(
                digitiser.scan,
                person,
                code,
                paper_key,
                Upload(paper_key, upload.filename or "scan.pdf", upload.content_type or "", upload.file),
            )
        finally:
            await upload.close()

    return router
