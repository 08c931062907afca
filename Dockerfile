# syntax=docker/dockerfile:1
#
# migrantbot in a container: a static binary on distroless, run as a
# non-root user. Build and run (see README, "Deploy"):
#
#   docker build -t migrantbot .
#   docker compose up -d
#
# The image holds only the binary: migrations, texts and templates are
# embedded in it. `dev` needs PostgreSQL's server binaries and is not for
# this image; `serve`, `migrate`, `staff`, `export`, `webhook` are.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a change of the code alone reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command line as in README's "Deploy": a static binary (no cgo,
# so no libc needed at run time), without local paths or debug symbols.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/migrantbot ./cmd/migrantbot

# distroless/static has CA certificates (for api.telegram.org), time zone
# data and a nonroot user (65532), and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/migrantbot /usr/local/bin/migrantbot
USER nonroot:nonroot
# Inside a container the listeners must bind every interface to be
# reachable through a published port; docker-compose.yml publishes them on
# the host's loopback only. 8080: staff console, /healthz, /readyz,
# /metrics. 8443: the webhook, in plain HTTP behind a TLS reverse proxy.
ENV STAFF_ADDR=0.0.0.0:8080 \
    WEBHOOK_ADDR=0.0.0.0:8443
EXPOSE 8080 8443
ENTRYPOINT ["/usr/local/bin/migrantbot"]
CMD ["serve"]
