# syntax=docker/dockerfile:1
#
# livelog:<version> — a fully static livelog on an empty (scratch) image.
#
#   docker build --build-arg VERSION=$(cargo pkgid | sed 's/.*[#@]//') -t livelog:dev .
#
# Multi-arch: the builder runs on the build machine's platform and
# cross-compiles for the target platform (buildx --platform linux/amd64,linux/arm64),
# so no emulation is needed for the Rust build.

ARG RUST_IMAGE=rust:1-bookworm

FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS build
ARG TARGETARCH
ARG BUILDARCH
# `file` for the static check; a cross C toolchain (ring has C code, and the
# binary is linked with gcc) when building for another architecture. Debian
# stable's packages: pinning their versions would break on every point release.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends file; \
    if [ "${TARGETARCH:-$BUILDARCH}" != "$BUILDARCH" ]; then \
        case "$TARGETARCH" in \
            arm64) apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross ;; \
            amd64) apt-get install -y --no-install-recommends gcc-x86-64-linux-gnu libc6-dev-amd64-cross ;; \
        esac; \
    fi; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# What `livelog --version` reports (build.rs): the image's version (unless
# it is the default below, then Cargo.toml's) and commit (.git is not in the
# build context, so the builder is told it).
ARG VERSION=0.0.0-dev
ARG COMMIT=""
# The same script .ci/run and the release workflow use: builds with
# -C target-feature=+crt-static, checks the result is static, and lays out the
# image's root file system (/livelog and an empty /tmp) in /rootfs. The run
# checks (chroot, serve a log) are left to CI, which has root and curl outside
# a build sandbox.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    LIVELOG_VERSION="${VERSION#0.0.0-dev}" LIVELOG_COMMIT="$COMMIT" \
    scripts/build-static.sh --no-run --rootfs /rootfs "${TARGETARCH:-$BUILDARCH}"

FROM scratch
ARG VERSION=0.0.0-dev
# Where the image's source lives (the release workflow passes its repository's
# address); empty for a local build.
ARG SOURCE=""
LABEL org.opencontainers.image.title="livelog" \
      org.opencontainers.image.description="Stream one growing log upload to many token-checked HTTP(S) readers, live" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MPL-2.0"
# The root file system scripts/build-static.sh laid out: /livelog and /tmp
# (scratch has none) for the temp file, mode 1777 as on any Unix, so that any
# user can create its temp file there: the default user, an arbitrary
# `--user 1000:0` (OpenShift) or `runAsUser`, and the tmpfs podman mounts on
# /tmp for `--read-only`, which copies the image's mode. Copied as one tree:
# `COPY /rootfs/tmp /tmp` would copy the directory's contents only, and leave
# /tmp at the builder's default mode 0755.
COPY --from=build /rootfs/ /
ENV LIVELOG_TEMP_DIR=/tmp
USER 65532:65532
# 60022: upload (PUT), loopback only unless LIVELOG_PUT_HOST says otherwise.
# 60023: readers (GET), all interfaces.
EXPOSE 60022 60023
ENTRYPOINT ["/livelog"]
