# Builds the operator image: a static Go binary on a distroless, non-root base.
FROM golang:1.26 AS builder
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY config/crd/ config/crd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o webstack-operator ./cmd/webstack-operator

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/webstack-operator .
USER 65532:65532
ENTRYPOINT ["/webstack-operator"]
