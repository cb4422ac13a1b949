"""Start the API server: one entry point for the image's CMD and the native runner."""

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        server_header=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
