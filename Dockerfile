# syntax=docker/dockerfile:1
# Multi-stage build of the operator: a static binary on a distroless base,
# running as a non-root user.
# The same file builds the Viola test API, whose Deployment sets the command:
#   docker build --build-arg CMD=./viola/testapi/cmd/viola-test-api --build-arg BIN=viola-test-api -t viola-test-api:dev .
FROM golang:1.26 AS build
# CMD is the Go package to build, BIN the binary's name in the image.
ARG CMD=./operator
ARG BIN=multinic-operator
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/${BIN} ${CMD}

FROM gcr.io/distroless/static:nonroot
ARG BIN=multinic-operator
COPY --from=build /out/${BIN} /${BIN}
USER 65532:65532
# Exec form cannot expand BIN, so this is the operator's; other binaries are
# started by their manifest's command (e.g. ["/viola-test-api"]).
ENTRYPOINT ["/multinic-operator"]
