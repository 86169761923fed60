# PostgreSQL 15 run by hopguard's pgserver (conformance/cmd/pgserver: static, at /app), the stack's
# postgres component on the container runtime. Debian's postgres and initdb are at Debian's path,
# /usr/lib/postgresql/15/bin (what pgserver's --bin-path names), with exactly the libraries `ldd`
# lists for them and their modules on this machine, initdb's share files, the time zone database,
# /bin/sh and /etc/passwd (initdb needs both); docker/build-images.sh assembles it from what
# `make tools` installed, as nothing can be pulled. pgserver initialises the cluster in the
# mounted data directory on the first start and keeps it; the root file system may be read-only.
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/app"]
