# unseal-controller image: built with Meson on Debian 12; the image holds
# only what the binary needs (the shared libraries ldd names, CA
# certificates, passwd/group for the numeric user), laid out by
# scripts/image-rootfs.sh. No shell, no package manager.
#
# scripts/image.sh builds the same image without a container engine, as an
# OCI image layout (tests/examples/test_image.py checks that the two agree:
# user, entrypoint, ports, labels, the root filesystem script).
#
# Build it the way scripts/release.sh prints it, so that the tag, the
# version label and the Git commit agree:
#   scripts/release.sh            # prints the docker build command
# The build commands below are the ones CI runs (scripts/setup.sh: meson
# setup, then ninja), with a release build type.

ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
# The -dev packages of scripts/setup.sh (cmocka too: meson configures the
# tests, as in CI), the build tools, and the CA certificates the image carries.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc pkg-config meson ninja-build python3 \
      libsodium-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev \
      libssl-dev libcmocka-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup build --buildtype=release && ninja -C build
RUN install -D -m 0755 build/unseal-controller/unseal-controller /out/unseal-controller
RUN scripts/image-rootfs.sh /out/unseal-controller /rootfs

FROM scratch
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="unseal-controller" \
      org.opencontainers.image.description="seal: turns SealedSecrets into Secrets in the cluster" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /rootfs/ /
# A numeric user, so the kubelet can enforce runAsNonRoot without /etc/passwd.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/unseal-controller"]
