# SPIRE 1.13.3's server from bin/spire-server (built by `make tools` from SPIRE's Go module) on a glibc
# base made of exactly the libraries `ldd spire-server` lists on this machine (docker/build-images.sh
# copies them), at /opt/spire/bin/spire-server as in ghcr.io/spiffe/spire-server:1.13.3. The official
# image's entrypoint also says `run`; this one is the bare binary, so the harness's arguments
# (`run -config ...`) mean the same as on the process runtime.
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/opt/spire/bin/spire-server"]
