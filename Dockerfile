# The images of `make images` for people with a Docker or BuildKit daemon
# (make images needs none; see README "Build images"). Same layout: a static
# binary at /NAME as the entrypoint, on a base written by
# operator/hack/tools/imagebuild -rootfs (CA roots, /etc/passwd with nonroot 65532,
# /tmp), user 65532, the same OCI labels. Only the Go toolchain image is
# pulled; the images themselves start FROM scratch.
#
#   make docker-build IMG=<registry>/multinic-operator:<tag>     (passes VERSION, REVISION, CREATED)
#   docker build --target viola-test-api -t <registry>/viola-test-api:<tag> .
FROM golang:1.26 AS base
WORKDIR /src
COPY go.mod go.sum ./
COPY operator/hack/tools/imagebuild/go.mod operator/hack/tools/imagebuild/go.sum operator/hack/tools/imagebuild/
RUN go mod download && go -C operator/hack/tools/imagebuild mod download
COPY . .
# /home/nonroot is set apart: only a COPY --chown that creates it owns it to 65532.
RUN go -C operator/hack/tools/imagebuild run . -rootfs /rootfs && mv /rootfs/home/nonroot /home-nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# The flags of make images: static, no VCS stamping, version from -X.
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
ENV LDFLAGS="-s -w -X github.com/multinic/multinic/internal/version.version=${VERSION} -X github.com/multinic/multinic/internal/version.revision=${REVISION} -X github.com/multinic/multinic/internal/version.buildDate=${CREATED}"

FROM base AS build-viola-test-api
RUN go build -trimpath -ldflags "$LDFLAGS" -o /out/viola-test-api ./operator/cmd/viola-test-api

FROM base AS build-multinic-operator
RUN go build -trimpath -ldflags "$LDFLAGS" -o /out/multinic-operator ./operator/cmd/multinic-operator

FROM scratch AS viola-test-api
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=base /rootfs/ /
COPY --from=base --chown=65532:65532 /home-nonroot /home/nonroot
COPY --from=build-viola-test-api /out/viola-test-api /viola-test-api
USER 65532:65532
ENTRYPOINT ["/viola-test-api"]
LABEL org.opencontainers.image.title="viola-test-api" \
      org.opencontainers.image.description="Stand-in for the Viola API: applies node configs as MultiNicNodeConfig objects" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/multinic/multinic" \
      org.opencontainers.image.licenses="Apache-2.0"

# Last, so a plain `docker build .` builds the operator.
FROM scratch AS multinic-operator
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=base /rootfs/ /
COPY --from=base --chown=65532:65532 /home-nonroot /home/nonroot
COPY --from=build-multinic-operator /out/multinic-operator /multinic-operator
USER 65532:65532
ENTRYPOINT ["/multinic-operator"]
LABEL org.opencontainers.image.title="multinic-operator" \
      org.opencontainers.image.description="Kubernetes operator that syncs the extra NICs of OpenStack VMs to the Viola API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/multinic/multinic" \
      org.opencontainers.image.licenses="Apache-2.0"
