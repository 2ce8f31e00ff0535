# syntax=docker/dockerfile:1
#
# One image recipe for every service:
#   docker build --build-arg SERVICE=orders-service -t orders-service .
# The build and runtime stages share Debian 12 (bookworm) so the glibc that
# cgo and the bundled librdkafka link against is the one that runs them.

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/base-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src

# Module files first: the `go mod download` layer is reused until a dependency
# changes. Every module in go.work must be listed here (hack/check-dockerfile.sh
# fails otherwise), including the test-only hack/e2e: workspace mode needs each
# used module's go.mod even when nothing is built from it.
COPY go.work go.work.sum ./
COPY pkg/go.mod pkg/go.sum pkg/
COPY services/orders-service/go.mod services/orders-service/go.sum services/orders-service/
COPY services/tracking-service/go.mod services/tracking-service/go.sum services/tracking-service/
COPY services/notification-service/go.mod services/notification-service/go.sum services/notification-service/
COPY hack/e2e/go.mod hack/e2e/go.sum hack/e2e/
RUN go mod download

# Sources: the shared module and only the service being built, so a change to
# one service does not rebuild the others' images.
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "set --build-arg SERVICE=orders-service|tracking-service|notification-service" >&2; exit 1; }
COPY hack/build.sh hack/build.sh
COPY pkg/ pkg/
COPY services/${SERVICE}/ services/${SERVICE}/

# skaffold debug passes "all=-N -l" here; empty for normal builds.
ARG SKAFFOLD_GO_GCFLAGS
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    VERSION="${VERSION}" GO_GCFLAGS="${SKAFFOLD_GO_GCFLAGS}" OUT_DIR=/out \
    hack/build.sh "${SERVICE}" && mv "/out/${SERVICE}" /out/service

FROM ${RUNTIME_IMAGE}
ARG SERVICE
ARG VERSION=dev
LABEL org.opencontainers.image.title="${SERVICE}" \
      org.opencontainers.image.version="${VERSION}"
# Fixed path so the chart can run `service migrate` in any image;
# the distroless nonroot user is 65532:65532.
COPY --from=build /out/service /usr/local/bin/service
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/service"]
