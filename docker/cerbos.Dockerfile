# Cerbos 0.55.0 from its static release binary (npm @cerbos/cerbos-linux-x64, installed by
# `make tools`). It stands in for ghcr.io/cerbos/cerbos:0.55.0 where no registry is reachable and
# is used the same way: the entrypoint is the binary, the command `server`, the policies mounted
# (the conformance harness mounts the source tree; docker/compose.yaml mounts policies/).
FROM scratch
COPY cerbos /cerbos
COPY passwd group /etc/
USER 65532:65532
ENTRYPOINT ["/cerbos"]
CMD ["server"]
