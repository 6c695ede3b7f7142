# syntax=docker/dockerfile:1
# Go with cgo, cross-compiled by xx-go: the build stage runs on the build machine
# ($BUILDPLATFORM); xx-go sets GOOS/GOARCH/GOARM and cgo's CC (xx-clang's target
# aliases), xx-apt-get installs the target's libc, and the program is linked statically
# so the image needs nothing else.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -f examples/Dockerfile.go examples
#   buildah build --isolation chroot --build-arg BUILDPLATFORM=linux/amd64 \
#     --platform linux/amd64,linux/arm64 --manifest hello-go -f examples/Dockerfile.go examples
ARG XX_IMAGE=xx:latest
ARG BASE_IMAGE=debian:bookworm
FROM --platform=$BUILDPLATFORM ${XX_IMAGE} AS xx

FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build
COPY --from=xx / /
RUN apt-get update && apt-get install -y --no-install-recommends golang-go clang lld
ARG TARGETPLATFORM
RUN xx-apt-get install -y xx-c-essentials
WORKDIR /src/hello-go
COPY hello-go .
ENV CGO_ENABLED=1
RUN xx-go build -trimpath -ldflags "-linkmode external -extldflags -static" -o /hello-go . && \
    xx-verify --static /hello-go

FROM scratch
COPY --from=build /hello-go /usr/local/bin/hello-go
ENTRYPOINT ["/usr/local/bin/hello-go"]
