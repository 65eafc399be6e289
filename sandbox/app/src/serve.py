"""Start the ASGI web server (uvicorn) on 127.0.0.1:$WEB_PORT; Traefik terminates TLS in front."""

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "config.asgi:application",
        host=os.environ.get("WEB_HOST", "127.0.0.1"),
        port=int(os.environ.get("WEB_PORT", "8000")),
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
