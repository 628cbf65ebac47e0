# syntax=docker/dockerfile:1
# Multi-stage build of the operator: a static binary on a distroless base,
# running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/multinic-operator ./operator

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/multinic-operator /multinic-operator
USER 65532:65532
ENTRYPOINT ["/multinic-operator"]
