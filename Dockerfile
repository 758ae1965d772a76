# unseal-controller image: built with Meson on Debian 12, run on Debian 12
# slim with only the shared libraries the binary needs.
#
# Build it the way scripts/release.sh prints it, so that the tag, the
# version label and the Git commit agree:
#   scripts/release.sh            # prints the docker build command
# The build commands below are the ones CI runs (scripts/setup.sh: meson
# setup, then ninja), with a release build type.

ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
# The -dev packages of scripts/setup.sh (cmocka too: meson configures the
# tests, as in CI) and the build tools.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc pkg-config meson ninja-build python3 \
      libsodium-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev \
      libssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup build --buildtype=release && ninja -C build
RUN install -D -m 0755 build/unseal-controller/unseal-controller /out/usr/local/bin/unseal-controller

FROM ${DEBIAN_IMAGE}
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="unseal-controller" \
      org.opencontainers.image.description="seal: turns SealedSecrets into Secrets in the cluster" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:12-slim"
# The runtime libraries `ldd` lists for the controller, by their Debian
# packages (tests/examples/test_dockerfile.py checks the list against the
# built binary); their own dependencies come with them.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libc6 libsodium23 libyaml-0-2 libjansson4 libcurl4 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# A numeric user, so the kubelet can enforce runAsNonRoot without /etc/passwd.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/unseal-controller"]
